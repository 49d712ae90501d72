"""Settings of the gateway service (the shared runtime's, for now)."""

from services.runtime.settings import RuntimeSettings as GatewaySettings

__all__ = ["GatewaySettings"]
