"""Settings of the outcomes service (the shared runtime's, for now)."""

from services.runtime.settings import RuntimeSettings as OutcomesSettings

__all__ = ["OutcomesSettings"]
