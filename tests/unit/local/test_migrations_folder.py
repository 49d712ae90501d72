"""`up` finds each service's migrations without importing the service: the folder it finds must
be the one the service's own definition names."""

from __future__ import annotations

import pytest

from singlepot.system import SERVICE_NAMES, migrations_folder, service_definition


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_the_migrations_folder_is_the_one_the_service_definition_names(name: str) -> None:
    folder = migrations_folder(name)
    assert folder == service_definition(name).migrations
    assert sorted(folder.glob("001_*.sql")), f"{folder} holds no first migration"
