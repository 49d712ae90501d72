"""Each role's pages, one module per role; `ROUTERS` lists their router factories."""

from services.gateway.monitoring import pages as monitoring
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
    monitoring.router,
)
