"""Each role's pages, one module per role; `ROUTERS` lists their router factories."""

from services.gateway.web.pages import (
    board,
    budget_rounds,
    citizens,
    claims,
    department,
    finance,
    insights,
    monitoring,
    organisations,
    provider,
    public,
    returns,
    verifier,
)

ROUTERS = (
    public.router,
    finance.router,
    board.router,
    claims.router,
    provider.router,
    verifier.router,
    department.router,
    organisations.router,
    returns.router,
    monitoring.router,
    insights.router,
    citizens.router,
    budget_rounds.router,
)
