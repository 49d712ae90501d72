"""`singlepot reconcile` takes the ledger's report token from the ledger's own variable when it
has none of its own, so one Secret serves the ledger, the gateway and the reconcile CronJob."""

import pytest

from singlepot.reconcile import ReconcileSettings

TOKEN_VARIABLES = ("SINGLEPOT_RECONCILE_LEDGER_TOKEN", "SINGLEPOT_LEDGER_REPORT_TOKEN")


@pytest.fixture(autouse=True)
def no_token_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TOKEN_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_either_variable_no_authorization_is_sent() -> None:
    assert ReconcileSettings().ledger_headers() == {}


def test_the_ledgers_report_token_is_used_when_reconcile_has_none_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SINGLEPOT_LEDGER_REPORT_TOKEN", "shared-token")
    assert ReconcileSettings().ledger_headers() == {"Authorization": "Bearer shared-token"}


def test_reconciles_own_token_wins_over_the_ledgers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGLEPOT_LEDGER_REPORT_TOKEN", "shared-token")
    monkeypatch.setenv("SINGLEPOT_RECONCILE_LEDGER_TOKEN", "reconcile-token")
    assert ReconcileSettings().ledger_headers() == {"Authorization": "Bearer reconcile-token"}


def test_the_token_can_still_be_given_by_field_name() -> None:
    settings = ReconcileSettings(reconcile_ledger_token="given")  # type: ignore[arg-type]
    assert settings.ledger_headers() == {"Authorization": "Bearer given"}
