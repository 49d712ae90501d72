"""Settings of the gateway service: the shared runtime's, plus the gateway's own limits.

Every gateway setting is read from `SINGLEPOT_<FIELD NAME>` like the runtime's; every limit has
a default that suits a local run and a name that ends in its unit (`_max`, `_s`, `_bytes`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.settings import RuntimeSettings

__all__ = ["GatewaySettings", "RuntimeSettings"]

# Where `npm ci` (make setup) puts GOV.UK Frontend's compiled assets, relative to the repository.
DEFAULT_WEB_ASSETS_DIR = (
    Path(__file__).resolve().parents[2] / "node_modules" / "govuk-frontend" / "dist" / "govuk"
)
# The pseudonymisation key a local run uses; anywhere else the gateway refuses to start with it
# (services/gateway/identity/security.py), as it is public.
LOCAL_PSEUDONYM_KEY = "local-only-pseudonymisation-key"
# And Swagger UI's, for the API documentation page (/docs).
DEFAULT_SWAGGER_UI_DIR = Path(__file__).resolve().parents[2] / "node_modules" / "swagger-ui-dist"


class PlacePublishing(BaseModel):
    """A place's publishing identity for its open data: the prefixes the standards' registries
    issued to its combined authority, and where its publication policy is."""

    threesixtygiving_prefix: str = Field(
        pattern=r"^360G-[A-Za-z0-9_-]{2,40}$", description="Issued by 360Giving."
    )
    ocds_prefix: str = Field(
        pattern=r"^ocds-[a-z0-9]{6}$",
        description="Registered with the Open Contracting Partnership.",
    )
    publication_policy_url: str | None = Field(default=None, pattern=r"^https://\S+$")

    @field_validator("threesixtygiving_prefix", "ocds_prefix")
    @classmethod
    def _not_a_placeholder(cls, value: str) -> str:
        # The demo's placeholders (services/gateway/opendata/publishing.py) are nobody's prefix.
        if value.upper().startswith(("360G-DEMO", "OCDS-DEMO", "360G-SINGLEPOT", "OCDS-SINGLE")):
            raise ValueError(f"{value} is a placeholder, not a prefix a registry issued")
        return value


class GatewaySettings(BaseSettings):
    """The gateway's own limits; the runtime's settings (database, broker) are separate."""

    model_config = SettingsConfigDict(
        env_prefix="SINGLEPOT_", extra="ignore", populate_by_name=True
    )

    gateway_request_bytes_max: int = Field(
        default=1_000_000, ge=1_000, description="Largest JSON request body the gateway reads."
    )
    gateway_json_depth_max: int = Field(
        default=32,
        ge=4,
        le=256,
        description="Deepest nesting of arrays and objects a JSON request body may have; "
        "checked before the body is parsed.",
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
        default=SecretStr(LOCAL_PSEUDONYM_KEY),
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
    gateway_command_wait_max_s: float = Field(
        default=30.0,
        ge=0,
        description="Longest `?wait=` a command status request may hold for a change.",
    )
    gateway_web_command_wait_s: float = Field(
        default=3.0,
        ge=0,
        description="How long a page waits for the outcome of the command its form sent.",
    )
    gateway_monitoring_reminder_before_days: int = Field(
        default=14,
        ge=0,
        le=366,
        description="Grant monitoring: how many days before a report's due date its reminder "
        "starts.",
    )
    gateway_monitoring_reminder_after_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="Grant monitoring: an overdue report is reminded the day after it fell due "
        "and then every this many days.",
    )
    gateway_due_diligence_valid_days: int = Field(
        default=365,
        ge=1,
        le=3660,
        description="Due diligence: days a registration or bank-detail check stays current in "
        "a place that sets no period of its own; an older check turns the rating amber.",
    )
    gateway_command_wait_poll_interval_s: float = Field(
        default=0.1, gt=0, description="How often a waiting command status request looks again."
    )
    gateway_sse_keepalive_s: float = Field(
        default=15.0, gt=0, description="Longest silence on an SSE stream before a keep-alive."
    )
    gateway_ledger_url: str = Field(
        default="http://127.0.0.1:8001",
        description="The ledger's report port, which the auditor's audit export and trial "
        "balance are fetched from.",
    )
    ledger_report_token: SecretStr | None = Field(
        default=None,
        description="The ledger's report credential, sent to it for auditors' reports.",
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
        default=0.25,
        gt=0,
        description="Longest the delivery loop waits when nothing is due; a commit that queued "
        "deliveries wakes it at once (LISTEN/NOTIFY), so this bounds how late a retry starts.",
    )
    # Once `webhook_batch_size_max`, when deliveries were posted in rounds; its variable is
    # still read.
    webhook_concurrency_max: int = Field(
        default=100,
        ge=1,
        validation_alias=AliasChoices(
            "SINGLEPOT_WEBHOOK_CONCURRENCY_MAX", "SINGLEPOT_WEBHOOK_BATCH_SIZE_MAX"
        ),
        description="Most webhook POSTs one delivery process has in flight at once; a slot that "
        "frees up takes up the next due delivery.",
    )
    # Half the slots by default: one department's spends at 200/s need tens in flight (at 10,
    # the end-to-end benchmark's deliveries fell behind: bench/NOTES.md), and a dead endpoint
    # still leaves the other half to everyone else.
    webhook_subscription_concurrency_max: int = Field(
        default=50,
        ge=1,
        description="Most deliveries of one webhook subscription being posted at once, by every "
        "delivery process together: a slow or dead receiver holds no more of the slots.",
    )
    webhook_claim_margin_s: float = Field(
        default=10.0,
        gt=0,
        description="A delivery is claimed for `webhook_timeout_s` plus this before it is "
        "posted; if the process posting it dies, it is due again when the claim lapses.",
    )
    # Where webhooks may go (services/gateway/delivery/webhook_urls.py): https to public
    # addresses only, so a department's token cannot make the gateway post into its own network.
    webhook_allowed_hosts: str = Field(
        default="",
        description="Comma-separated host names or IP addresses a webhook may reach whatever "
        "their address, scheme and port (on-premises receivers, or 127.0.0.1 locally).",
    )
    webhook_allow_http: bool = Field(
        default=False,
        description="Accept plain http:// webhook URLs to public addresses (https only if false).",
    )
    webhook_allowed_ports: str = Field(
        default="",
        description="Comma-separated ports a webhook URL may use besides its scheme's default.",
    )
    webhook_resolve_timeout_s: float = Field(
        default=2.0, gt=0, description="How long resolving a webhook's host name may take."
    )
    webhook_response_bytes_max: int = Field(
        default=65_536,
        ge=0,
        description="Most bytes of a webhook receiver's answer the gateway reads; the rest is "
        "dropped.",
    )
    # The web pages (services/gateway/web): sign-in sessions and GOV.UK Frontend's assets.
    web_session_cookie_name: str = Field(
        default="singlepot_session",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Name of the web pages' session cookie.",
    )
    web_session_cookie_secure: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only (browsers treat http://localhost as "
        "secure); turn off only to use the pages over plain HTTP on another host.",
    )
    web_session_lifetime_s: float = Field(
        default=8 * 3600.0,
        gt=0,
        description="How long a web sign-in lasts before the person must sign in again.",
    )
    web_sign_in_attempts_burst_max: int = Field(
        default=10,
        ge=1,
        description="Sign-in attempts allowed at once for one user id before they are slowed.",
    )
    web_sign_in_attempts_per_s: float = Field(
        default=0.1,
        gt=0,
        description="Sign-in attempts per second allowed for one user id once the burst is spent.",
    )
    web_assets_dir: Path = Field(
        default=DEFAULT_WEB_ASSETS_DIR,
        description="Folder of GOV.UK Frontend's compiled assets (node_modules/govuk-frontend/"
        "dist/govuk, installed by `npm ci`), served at /assets.",
    )
    web_swagger_ui_dir: Path = Field(
        default=DEFAULT_SWAGGER_UI_DIR,
        description="Folder of Swagger UI's assets (node_modules/swagger-ui-dist, installed by "
        "`npm ci`), served at /docs-assets for the API documentation page /docs.",
    )

    def local_secrets_in_use(self) -> list[str]:
        """The environment variables of secrets still at their public local defaults."""
        if self.gateway_pseudonym_key.get_secret_value() == LOCAL_PSEUDONYM_KEY:
            return ["SINGLEPOT_GATEWAY_PSEUDONYM_KEY"]
        return []

    # Open data (services/gateway/opendata): each place's publishing identity.
    opendata_publishers: dict[str, PlacePublishing] = Field(
        default_factory=dict,
        description="Per place, as JSON: its combined authority's 360Giving prefix, OCDS prefix "
        'and publication policy link, e.g. {"GM": {"threesixtygiving_prefix": "360G-gmca", '
        '"ocds_prefix": "ocds-abc123", "publication_policy_url": "https://..."}}.',
    )
    opendata_demo: bool = Field(
        default=False,
        description="Publish a place that registered no prefixes under placeholder identifiers "
        "marked as demonstration data (a local run); otherwise its open data is refused (409).",
    )
    opendata_release_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="The projector keeps an outcomes contract's OCDS release at most once per "
        "this many seconds (each holds every payment so far); the last change is always kept, "
        "dated by its event. 0: once per fetch.",
    )

    @field_validator("webhook_allowed_ports")
    @classmethod
    def _ports_are_ports(cls, value: str) -> str:
        for entry in (part.strip() for part in value.split(",")):
            if entry and not (entry.isdigit() and 1 <= int(entry) <= 65_535):
                raise ValueError(f"{entry!r} is not a port (a whole number from 1 to 65535)")
        return value
