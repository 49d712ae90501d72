"""Settings of the gateway service: the shared runtime's, plus the gateway's own limits.

Every gateway setting is read from `SINGLEPOT_<FIELD NAME>` like the runtime's; every limit has
a default that suits a local run and a name that ends in its unit (`_max`, `_s`, `_bytes`).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.settings import RuntimeSettings

__all__ = ["GatewaySettings", "RuntimeSettings"]


class GatewaySettings(BaseSettings):
    """The gateway's own limits; the runtime's settings (database, broker) are separate."""

    model_config = SettingsConfigDict(
        env_prefix="SINGLEPOT_", extra="ignore", populate_by_name=True
    )

    gateway_request_bytes_max: int = Field(
        default=1_000_000, ge=1_000, description="Largest JSON request body the gateway reads."
    )
    gateway_upload_bytes_max: int = Field(
        default=50_000_000, ge=1_000, description="Largest evidence file upload the gateway reads."
    )
    gateway_rate_limit_per_s: float = Field(
        default=100.0, gt=0, description="Requests per second each token may make, sustained."
    )
    gateway_rate_limit_burst_max: int = Field(
        default=200, ge=1, description="Requests a token may make at once before rate limiting."
    )
    # The same key as the outcomes service's (one per deployment, so duplicates across
    # providers and entry points are visible): either variable sets it.
    gateway_pseudonym_key: SecretStr = Field(
        default=SecretStr("local-only-pseudonymisation-key"),
        validation_alias=AliasChoices(
            "SINGLEPOT_GATEWAY_PSEUDONYM_KEY", "SINGLEPOT_OUTCOMES_PARTICIPANT_HASH_KEY"
        ),
        description="Key hashing participant references in uploaded evidence files; set a "
        "secret one in production.",
    )
    gateway_upload_errors_max: int = Field(
        default=100, ge=1, description="Most per-row errors an evidence upload reports back."
    )
    gateway_token_cache_s: float = Field(
        default=1.0,
        ge=0,
        description="How long a gateway trusts a token it looked up; a revocation takes effect "
        "within this time.",
    )
    gateway_token_lifetime_days: int = Field(
        default=90, ge=1, le=3650, description="How long a new token lasts unless told otherwise."
    )
    gateway_idempotency_key_length_max: int = Field(
        default=200, ge=8, le=1000, description="Longest Idempotency-Key accepted."
    )
    gateway_page_size_max: int = Field(
        default=1000, ge=1, description="Most rows one read endpoint returns."
    )
    gateway_sse_poll_interval_s: float = Field(
        default=0.05, gt=0, description="How often a Server-Sent Events stream looks for spend."
    )
    gateway_sse_keepalive_s: float = Field(
        default=15.0, gt=0, description="Longest silence on an SSE stream before a keep-alive."
    )
    webhook_attempts_max: int = Field(
        default=8, ge=1, le=100, description="Attempts at a webhook delivery before dead-letter."
    )
    webhook_retry_backoff_s: float = Field(
        default=1.0, ge=0, description="First wait before retrying a webhook; doubles each time."
    )
    webhook_retry_backoff_max_s: float = Field(
        default=3600.0, ge=0, description="Longest wait between two webhook attempts."
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, description="How long a webhook receiver has to answer."
    )
    webhook_poll_interval_s: float = Field(
        default=0.02, gt=0, description="How often the delivery loop looks for due deliveries."
    )
    webhook_batch_size_max: int = Field(
        default=100, ge=1, description="Most webhook deliveries attempted at once."
    )
