"""Settings of the ledger service (the shared runtime's, for now)."""

from services.runtime.settings import RuntimeSettings as LedgerSettings

__all__ = ["LedgerSettings"]
