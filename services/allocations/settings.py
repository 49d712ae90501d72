"""Settings of the allocations service (the shared runtime's, for now)."""

from services.runtime.settings import RuntimeSettings as AllocationsSettings

__all__ = ["AllocationsSettings"]
