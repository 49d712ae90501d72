"""Settings of the ledger service: the shared runtime's, and the credential of its report
routes."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.settings import RuntimeSettings as LedgerSettings


class LedgerReportSettings(BaseSettings):
    """Who may call the ledger's report routes: callers sending this bearer token (the gateway,
    for auditors). Unset, the routes refuse everyone; `singlepot up` makes one per run."""

    model_config = SettingsConfigDict(env_prefix="SINGLEPOT_", extra="ignore")

    ledger_report_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the ledger's report routes require; unset, they refuse.",
    )


__all__ = ["LedgerReportSettings", "LedgerSettings"]
