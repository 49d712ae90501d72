"""Who the caller is, over HTTP: `GET /api/v1/me`, the token's principal and its grants."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.gateway import domain, problems
from services.gateway.domain import Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute

JsonObject = dict[str, Any]


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1",
        responses=problems.openapi_responses(401, 403, 404, 422, 429),
        route_class=GuardedRoute,
    )

    @router.get("/me", tags=["identity"])
    async def me(principal: Principal = CALLER) -> JsonObject:
        """Who the token belongs to and what it may do."""
        return {
            "principal_id": principal.principal_id,
            "grants": [domain.format_grant(grant) for grant in principal.grants],
        }

    return router
