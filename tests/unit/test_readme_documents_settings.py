"""README.md documents every setting the code reads, so the configuration tables stay true."""

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from services.gateway.settings import GatewaySettings
from services.outcomes.settings import OutcomesSettings
from services.runtime.settings import RuntimeSettings
from singlepot.reconcile import ReconcileSettings

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "settings_class", [RuntimeSettings, GatewaySettings, OutcomesSettings, ReconcileSettings]
)
def test_every_setting_is_documented_in_the_readme(settings_class: type[BaseSettings]) -> None:
    prefix = settings_class.model_config.get("env_prefix", "")
    missing = [
        f"{prefix}{name}".upper()
        for name in settings_class.model_fields
        if f"{prefix}{name}".upper() not in README
    ]
    assert missing == [], f"README.md does not document: {', '.join(missing)}"
