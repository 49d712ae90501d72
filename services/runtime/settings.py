"""Settings shared by every singlepot process, read from the environment by pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_DATABASE_NAME = "singlepot"
# The embedded PostgreSQL's generated superuser password, in its data folder (mode 0600).
LOCAL_POSTGRES_PASSWORD_FILE = "postgres-password"


class RuntimeSettings(BaseSettings):
    """Every setting has a default that runs the whole system locally with no setup.

    Each field is read from `SINGLEPOT_<FIELD NAME>`; the two that production sets most often
    also answer to their conventional names, `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS`.
    """

    model_config = SettingsConfigDict(env_prefix="SINGLEPOT_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "SINGLEPOT_DATABASE_URL"),
        description="PostgreSQL to use instead of the embedded one.",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "SINGLEPOT_KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="Kafka cluster to use instead of the bundled Tansu broker.",
    )
    data_dir: Path = Field(default=Path(".data"), description="Where local data lives.")
    local_defaults_allowed: bool = Field(
        default=False,
        description="Set by the local launcher (singlepot up, make run) and the tests: allows "
        "the built-in development secrets, with which a service refuses to start elsewhere.",
    )
    postgres_port: int = Field(default=54329, ge=1, le=65535)
    broker_port: int = Field(default=19092, ge=1, le=65535)
    gateway_host: str = "127.0.0.1"
    # Where the ledger, allocations and outcomes services listen (health, metrics, the ledger's
    # report routes): this machine only, unless a deployment opens them (0.0.0.0 in a pod).
    service_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    ledger_health_port: int = Field(default=8001, ge=1, le=65535)
    allocations_health_port: int = Field(default=8002, ge=1, le=65535)
    outcomes_health_port: int = Field(default=8003, ge=1, le=65535)

    topic_prefix: str = Field(
        default="", description="Prepended to every topic name and consumer group."
    )
    topic_partitions: int = Field(default=3, ge=1, le=1024)
    topic_replication_factor: int = Field(default=1, ge=1, le=16)

    consumer_session_timeout_ms: int = Field(default=6000, ge=1000)
    consumer_heartbeat_interval_ms: int = Field(default=1500, ge=100)
    # Kafka answers a fetch as soon as data arrives, so there this only sets how often an idle
    # consumer asks; the bundled Tansu mostly answers at the end of the wait, so it adds up to
    # this much to every hop. 20 ms: the hop's p99 near its floor, for about 0.07 of a core per
    # idle consumer, broker included (bench/NOTES.md, "Latency at moderate load").
    consumer_fetch_max_wait_ms: int = Field(default=20, ge=1)
    consumer_batch_size_max: int = Field(default=1000, ge=1, le=100_000)
    handler_attempts_max: int = Field(default=3, ge=1, le=100)
    handler_retry_backoff_s: float = Field(default=0.05, ge=0)
    infrastructure_retry_backoff_s: float = Field(default=1.0, ge=0)

    outbox_batch_size_max: int = Field(default=500, ge=1, le=100_000)
    # 0: the relay builds every partition's record batch before it sends, so waiting adds
    # latency and gathers nothing more (bench/NOTES.md, "Latency at moderate load").
    producer_linger_ms: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="How long the relay's producer waits to fill a batch before sending it.",
    )
    outbox_poll_interval_s: float = Field(
        default=0.5,
        gt=0,
        description="Longest the active relay waits when the outbox is empty; a commit that "
        "wrote outbox rows wakes it at once (LISTEN/NOTIFY), so this bounds a missed notification.",
    )
    relay_standby_interval_s: float = Field(
        default=1.0, gt=0, description="How often a standby relay tries to become the active one."
    )
    relay_stuck_after_s: float = Field(
        default=60.0,
        gt=0,
        description="/readyz fails while the active relay's oldest unsent row is older than this.",
    )
    broker_check_interval_s: float = Field(default=5.0, gt=0)
    broker_check_timeout_s: float = Field(default=5.0, gt=0)
    outbox_retention_s: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Published outbox rows are kept this long, and replayed after broker loss.",
    )
    inbox_retention_s: float = Field(
        default=14 * 24 * 3600.0,
        gt=0,
        description="Inbox rows are kept this long; at least the outbox retention.",
    )
    prune_interval_s: float = Field(default=600.0, gt=0)
    prune_batch_size_max: int = Field(default=10_000, ge=1, le=1_000_000)
    database_pool_size_max: int = Field(default=10, ge=1, le=200)
    startup_timeout_s: float = Field(default=60.0, gt=0)

    replicas: int = Field(
        default=1, ge=1, le=16, description="Processes of each service `singlepot up` runs."
    )
    restart_backoff_s: float = Field(default=0.5, gt=0)
    restart_backoff_max_s: float = Field(default=30.0, gt=0)
    restarts_quick_max: int = Field(default=5, ge=1, le=1000)
    restart_window_s: float = Field(default=60.0, gt=0)

    due_work_interval_s: float = Field(default=3600.0, gt=0)

    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="`json` writes one JSON object per log line, with trace ids."
    )
    traces_exporter: Literal["none", "console", "otlp"] = Field(
        default="none", description="Where spans go; `otlp` reads the OTEL_EXPORTER_OTLP_* vars."
    )
    metrics_exporter: Literal["none", "console", "otlp"] = Field(
        default="none", description="Where metrics go; `otlp` reads the OTEL_EXPORTER_OTLP_* vars."
    )
    metrics_interval_s: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _inbox_outlives_outbox(self) -> RuntimeSettings:
        # A replay after broker loss re-sends rows up to the outbox retention old; each must
        # still find its inbox row, or it would be applied twice.
        if self.inbox_retention_s < self.outbox_retention_s:
            raise ValueError(
                "SINGLEPOT_INBOX_RETENTION_S must be at least SINGLEPOT_OUTBOX_RETENTION_S, so "
                "that messages replayed from the outbox still meet their inbox rows"
            )
        return self

    def effective_database_url(self) -> str:
        """The configured PostgreSQL, or the embedded one `singlepot up` starts (with the
        password it generated, kept in its data folder)."""
        if self.database_url:
            return self.database_url
        user = "postgres"
        password_path = self.data_dir / "postgres" / LOCAL_POSTGRES_PASSWORD_FILE
        if password_path.exists():
            user += ":" + password_path.read_text(encoding="utf-8").strip()
        return f"postgresql://{user}@127.0.0.1:{self.postgres_port}/{LOCAL_DATABASE_NAME}"

    def effective_bootstrap_servers(self) -> str:
        """The configured Kafka cluster, or the bundled broker `singlepot up` starts."""
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.broker_port}"

    def topic(self, logical_name: str) -> str:
        """The real topic name for a logical one from `contracts.topics`."""
        return f"{self.topic_prefix}{logical_name}"

    def consumer_group(self, service_name: str) -> str:
        """The consumer group a service's replicas share; namespaced like the topics, so that
        tests (one prefix each) never share a group's state on the broker."""
        return f"{self.topic_prefix}{service_name}"

    def health_port(self, service_name: str) -> int:
        """The HTTP port a service listens on for health checks (the gateway's API port)."""
        ports = {
            "gateway": self.gateway_port,
            "ledger": self.ledger_health_port,
            "allocations": self.allocations_health_port,
            "outcomes": self.outcomes_health_port,
        }
        return ports[service_name]
