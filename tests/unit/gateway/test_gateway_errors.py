"""The gateway's one root error: every error it raises on purpose derives from `GatewayError`,
whose docstring is the message when none is given."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import services.gateway
from services.gateway.errors import GatewayError
from services.gateway.problems import ProblemError
from services.gateway.web.routes import SignInRequired


def gateway_exception_classes() -> list[type[BaseException]]:
    found = []
    for module_info in pkgutil.walk_packages(services.gateway.__path__, "services.gateway."):
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_error_the_gateway_defines_derives_from_its_root_error() -> None:
    classes = gateway_exception_classes()
    assert ProblemError in classes and SignInRequired in classes
    strays = [
        f"{kind.__module__}.{kind.__name__}"
        for kind in classes
        if not issubclass(kind, GatewayError) and not kind.__name__.startswith("_")
    ]
    assert strays == []


def test_the_docstring_is_the_message_when_none_is_given() -> None:
    assert str(GatewayError()) == "The gateway could not do what was asked."
    assert str(SignInRequired()) == SignInRequired.__doc__
    assert str(ProblemError(422, "invalid", "amount_pence: must be positive")) == (
        "amount_pence: must be positive"
    )
