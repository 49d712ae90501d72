"""Each role's pages, one module per role; `ROUTERS` lists their router factories."""

from services.gateway.web.pages import board, department, finance, provider, verifier

ROUTERS = (finance.router, board.router, provider.router, verifier.router, department.router)
