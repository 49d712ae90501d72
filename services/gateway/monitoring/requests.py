"""Reading a JSON request body for the monitoring room's routes: within the gateway's size and
depth limits, storable, and valid against the route's model (else a problem naming the field)."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from services.gateway import problems
from services.gateway.identity.auth import Gateway
from services.gateway.intake import check_storable, parse_json_object, read_body

Model = TypeVar("Model", bound=BaseModel)


async def body_of(gateway: Gateway, request: Request, model: type[Model]) -> Model:
    raw = await read_body(request, gateway.settings.gateway_request_bytes_max)
    fields = parse_json_object(raw, gateway.settings.gateway_json_depth_max)
    check_storable(fields, "body")
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise problems.from_pydantic(error) from None
