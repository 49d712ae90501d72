"""Contract models built without a second validation, for a service's hot path: the events a
service assembles from values it has itself checked (the ledger's answers, outcomes' per-claim
results). Each use is compared with the validated model by a unit test, field order included."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

_Model = TypeVar("_Model", bound=BaseModel)


def trusted(model: type[_Model], fields: dict[str, Any]) -> _Model:
    """A contract model holding `fields` as given, not validated again (`model_construct` is
    slower than validating). Every field must be given, in the model's order, so that the JSON
    is the same (reordering them here cost as much as validating a small model)."""
    assert len(fields) == len(model.__pydantic_fields__), f"{model.__name__}: {list(fields)}"
    instance = model.__new__(model)
    _set_attribute(instance, "__dict__", fields)
    _set_attribute(instance, "__pydantic_fields_set__", set(fields))
    _set_attribute(instance, "__pydantic_extra__", None)
    _set_attribute(instance, "__pydantic_private__", None)
    return instance


_set_attribute = object.__setattr__  # the models are frozen
