"""Each role's pages, one module per role; `ROUTERS` lists their router factories."""

from services.gateway.insights import pages as insights_pages
from services.gateway.web.pages import (
    board,
    claims,
    department,
    finance,
    provider,
    public,
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
    insights_pages.router,
)
