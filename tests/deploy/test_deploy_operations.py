"""What an operator relies on agrees with the code and with itself: backups and the restore
check, topic retention (and README's table of it), telemetry and its alert rules."""

from __future__ import annotations

import re
from typing import Any

import promql_parser
import pytest
import yaml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from contracts import topics
from services.runtime.telemetry import Metrics
from tests.deploy.conftest import REPOSITORY
from tests.deploy.test_deploy_matches_code import (
    config_map,
    containers,
    environment,
    intended_image,
    named,
    of_kind,
    pod_template,
    secret_key,
    selects,
    settings_from_config,
)

Manifest = dict[str, Any]
README = (REPOSITORY / "README.md").read_text(encoding="utf-8")
DAY_MS = 86_400_000
AUDIT_TOPICS = {name for name in topics.ALL_TOPICS if name.startswith("ledger.")} | {
    name for name in topics.ALL_TOPICS if ".lifecycle." in name
}
# Recorded by `singlepot reconcile` (a counter: Prometheus adds _total).
RECONCILIATION_METRIC = "singlepot_reconcile_differences_total"


def prometheus_names_the_code_records() -> set[str]:
    """The services' metric names as Prometheus sees them through the collector's exporter:
    dots become underscores, and a counter's name ends in _total."""
    reader = InMemoryMetricReader()
    metrics = Metrics(MeterProvider(metric_readers=[reader]).get_meter("singlepot"))
    metrics.dead_letters.add(1, {})
    metrics.reservations.add(1, {})
    metrics.payments.add(1, {})
    metrics.outbox_backlog["ledger"] = 1
    metrics.record_lag("ledger", "topic", 0, 2, 1)
    names = set()
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                name = metric.name.replace(".", "_")
                is_counter = getattr(metric.data, "is_monotonic", False)
                names.add(f"{name}_total" if is_counter else name)
    return names


def metrics_read_by(expression: str) -> set[str]:
    """The metric names a PromQL expression selects (parsing it fails on a syntax error)."""
    names: set[str] = set()

    def note(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expression), note)
    return names


def alert_rules(objects: list[Manifest]) -> dict[str, Manifest]:
    (rule_set,) = of_kind(objects, "PrometheusRule")
    return {rule["alert"]: rule for group in rule_set["spec"]["groups"] for rule in group["rules"]}


def collector_config(objects: list[Manifest]) -> Manifest:
    config: Manifest = yaml.safe_load(
        named(objects, "ConfigMap", "singlepot-otel-collector")["data"]["config.yaml"]
    )
    return config


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


# --- backups and the restore check -------------------------------------------------------------


def test_postgresql_archives_wal_and_is_backed_up_daily_to_object_storage(
    objects: list[Manifest],
) -> None:
    (cluster,) = of_kind(objects, "Cluster")
    store = cluster["spec"]["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    credentials = store["s3Credentials"]
    assert {reference["name"] for reference in credentials.values()} == {"singlepot-backup-s3"}
    (scheduled,) = of_kind(objects, "ScheduledBackup")
    assert scheduled["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    assert scheduled["spec"]["method"] == "barmanObjectStore"
    assert re.fullmatch(r"\d+ \d+ \d+ \* \* \*", scheduled["spec"]["schedule"])  # daily


def test_each_overlay_backs_up_to_its_own_folder(rendered: dict[str, list[Manifest]]) -> None:
    folders = [
        cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"]
        for name, objects in rendered.items()
        if name.startswith("overlays/")
        for cluster in of_kind(objects, "Cluster")
    ]
    assert len(folders) == len(set(folders)) >= 2


def test_the_restore_check_restores_prods_backups_and_verifies_the_ledger_there(
    rendered: dict[str, list[Manifest]],
) -> None:
    prod, check = rendered["overlays/prod"], rendered["restore-check"]
    (source,) = of_kind(prod, "Cluster")
    (restored,) = of_kind(check, "Cluster")
    assert restored["metadata"]["namespace"] == source["metadata"]["namespace"]
    assert restored["metadata"]["name"] != source["metadata"]["name"]
    recovery = restored["spec"]["bootstrap"]["recovery"]
    (external,) = [
        item for item in restored["spec"]["externalClusters"] if item["name"] == recovery["source"]
    ]
    source_store = source["spec"]["backup"]["barmanObjectStore"]
    assert external["barmanObjectStore"]["destinationPath"] == source_store["destinationPath"]
    assert external["barmanObjectStore"]["serverName"] == source["metadata"]["name"]
    assert external["barmanObjectStore"]["s3Credentials"] == source_store["s3Credentials"]
    # The scratch copy must never archive into the folder it was restored from.
    assert "backup" not in restored["spec"]
    (job,) = of_kind(check, "Job")
    (container,) = containers(job)
    assert container["args"] == ["ledger", "verify"]
    assert container["image"] == intended_image()
    app_secret = f"{restored['metadata']['name']}-app"
    assert secret_key(environment(container)["DATABASE_URL"]) == (app_secret, "uri")


# --- topic retention ---------------------------------------------------------------------------


def retention_ms(topic: Manifest) -> int:
    return int(topic["spec"]["config"]["retention.ms"])


def test_the_ledgers_topics_and_the_lifecycles_are_kept_for_ever_and_never_compacted(
    objects: list[Manifest],
) -> None:
    for topic in of_kind(objects, "KafkaTopic"):
        config = topic["spec"]["config"]
        assert config["cleanup.policy"] == "delete"
        assert config["retention.bytes"] == -1  # never dropped for size
        if topic["spec"]["topicName"] in AUDIT_TOPICS:
            assert retention_ms(topic) == -1
        else:
            assert retention_ms(topic) >= 90 * DAY_MS


def test_readme_documents_each_topics_retention_as_the_manifests_set_it(
    objects: list[Manifest],
) -> None:
    documented = dict(re.findall(r"^\| `([a-z.]+\.v\d+)` \| ([^|]+?) \|", README, re.MULTILINE))
    expected = {
        topic["spec"]["topicName"]: (
            "for ever" if retention_ms(topic) == -1 else f"{retention_ms(topic) // DAY_MS} days"
        )
        for topic in of_kind(objects, "KafkaTopic")
    }
    assert documented == expected


# --- telemetry ---------------------------------------------------------------------------------


def test_telemetry_is_on_and_goes_to_the_collectors_otlp_port(
    objects: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from_config(objects, monkeypatch)
    assert (settings.traces_exporter, settings.metrics_exporter) == ("otlp", "otlp")
    service = named(objects, "Service", "singlepot-otel-collector")
    (port,) = service["spec"]["ports"]
    endpoint = f"http://{service['metadata']['name']}:{port['port']}"
    assert config_map(objects)["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    receiver = collector_config(objects)["receivers"]["otlp"]["protocols"]["http"]
    (collector,) = containers(named(objects, "Deployment", "singlepot-otel-collector"))
    named_ports = {item["name"]: item["containerPort"] for item in collector["ports"]}
    assert port_of(receiver["endpoint"]) == named_ports[port["targetPort"]]


def test_prometheus_scrapes_the_port_where_the_collector_exports_the_metrics(
    objects: list[Manifest],
) -> None:
    config = collector_config(objects)
    assert config["service"]["pipelines"]["metrics"]["receivers"] == ["otlp"]
    assert config["service"]["pipelines"]["metrics"]["exporters"] == ["prometheus"]
    deployment = named(objects, "Deployment", "singlepot-otel-collector")
    (collector,) = containers(deployment)
    (monitor,) = of_kind(objects, "PodMonitor")
    assert selects(
        monitor["spec"]["selector"]["matchLabels"], pod_template(deployment)["metadata"]["labels"]
    )
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    (scraped,) = [item for item in collector["ports"] if item["name"] == endpoint["port"]]
    assert scraped["containerPort"] == port_of(config["exporters"]["prometheus"]["endpoint"])
    policy = named(objects, "NetworkPolicy", "singlepot-otel-collector")["spec"]
    ingress_ports = {port["port"] for rule in policy["ingress"] for port in rule["ports"]}
    assert ingress_ports == {
        scraped["containerPort"],
        port_of(config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]),
    }


def test_every_metric_an_alert_reads_is_one_the_code_records(objects: list[Manifest]) -> None:
    recorded = prometheus_names_the_code_records() | {RECONCILIATION_METRIC}
    for name, rule in alert_rules(objects).items():
        for metric in metrics_read_by(rule["expr"]):
            if metric.startswith("singlepot_"):
                assert metric in recorded, f"{name} reads {metric}, which nothing records"
            else:
                assert metric.startswith("kube_"), f"{name} reads {metric} (kube-state-metrics?)"


def test_a_misspelt_metric_or_broken_expression_is_caught() -> None:
    assert metrics_read_by("sum(rate(singlepot_consumer_lagg[5m])) > 1") == {
        "singlepot_consumer_lagg"
    }
    with pytest.raises(ValueError, match="parenthesis"):
        metrics_read_by("sum by (topic (singlepot_consumer_lag) > 1")


def test_there_are_alerts_for_lag_backlog_dead_letters_verification_and_reconciliation(
    objects: list[Manifest],
) -> None:
    rules = alert_rules(objects)
    reads = {name: metrics_read_by(rule["expr"]) for name, rule in rules.items()}
    assert reads["SinglepotConsumerLagHigh"] == {"singlepot_consumer_lag"}
    assert reads["SinglepotOutboxBacklog"] == {"singlepot_outbox_backlog"}
    assert reads["SinglepotDeadLetters"] == {"singlepot_consumer_dead_letters_total"}
    assert reads["SinglepotLedgerVerificationFailed"] == {"kube_job_status_failed"}
    assert reads["SinglepotReconciliationDifferences"] == {RECONCILIATION_METRIC}
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert f"`{rule['alert']}`" in README, f"README does not explain {rule['alert']}"


def test_the_check_alerts_match_the_jobs_their_cron_jobs_create(objects: list[Manifest]) -> None:
    rules = alert_rules(objects)
    for alert, cron_name in (
        ("SinglepotLedgerVerificationFailed", "singlepot-ledger-verify"),
        ("SinglepotReconcileFailed", "singlepot-reconcile"),
    ):
        cron_job = named(objects, "CronJob", cron_name)
        (pattern,) = re.findall(r'job_name=~"([^"]+)"', rules[alert]["expr"])
        # A CronJob names each Job it creates `<cron job>-<minutes since the epoch>`.
        assert re.fullmatch(pattern, f"{cron_job['metadata']['name']}-29412345")
        assert not re.fullmatch(pattern, "singlepot-migrate-0.1.0")
    (cron_name,) = re.findall(
        r'cronjob="([^"]+)"', rules["SinglepotLedgerVerificationMissing"]["expr"]
    )
    assert named(objects, "CronJob", cron_name)["spec"]["schedule"]
