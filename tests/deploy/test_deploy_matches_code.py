"""The manifests and the Dockerfile agree with the code: images, ports, settings, roles, topics,
metrics."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
from opentelemetry.sdk import environment_variables as otel_environment
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from contracts import topics
from services.gateway.app import Role
from services.gateway.app import definition as gateway_definition
from services.gateway.settings import GatewaySettings
from services.ledger.settings import LedgerReportSettings
from services.outcomes.settings import OutcomesSettings
from services.runtime.consumer_groups import consumer_groups
from services.runtime.host import build_http_app
from services.runtime.settings import RuntimeSettings
from singlepot.reconcile import ReconcileSettings
from singlepot.roles import AUDITOR_ROLE, service_role
from singlepot.system import SERVICE_NAMES, service_definition
from tests.deploy.conftest import REPOSITORY

Manifest = dict[str, Any]
DOCKERFILE = (REPOSITORY / "Dockerfile").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))
# Connections kept free for the migrations Job, the operator and a superuser session.
RESERVED_DATABASE_CONNECTIONS = 10
HTTPS_PORT = 443
OTLP_HTTP_PORT = 4318
LEDGER_PORT = RuntimeSettings().ledger_health_port  # its report routes are served there
# Variables read by the libraries rather than RuntimeSettings: asyncpg takes the database role's
# credentials from PGUSER and PGPASSWORD (libpq's names), the OpenTelemetry SDK reads its OTEL_*
# ones, and K8S_POD_NAME only feeds OTEL_RESOURCE_ATTRIBUTES.
OPENTELEMETRY_VARIABLES = {
    value for name, value in vars(otel_environment).items() if name.startswith("OTEL_")
}
LIBRARY_VARIABLES = {"PGUSER", "PGPASSWORD", "K8S_POD_NAME"} | OPENTELEMETRY_VARIABLES


# The settings classes a container reads besides RuntimeSettings, by its arguments: a variable
# in a container's env must be one of these classes' fields (or a library's), so a misspelt one,
# or one given to a process that never reads it, fails.
SETTINGS_READ_BY: dict[tuple[str, ...], tuple[type[BaseSettings], ...]] = {
    ("serve", "gateway", "--role", "api"): (GatewaySettings,),
    ("serve", "gateway", "--role", "projector"): (GatewaySettings,),
    ("serve", "gateway", "--role", "delivery"): (GatewaySettings,),
    ("serve", "ledger"): (LedgerReportSettings,),
    ("serve", "outcomes"): (OutcomesSettings,),
    ("reconcile",): (ReconcileSettings,),
}
ALL_SETTINGS_CLASSES: set[type[BaseSettings]] = {RuntimeSettings} | {
    settings_class for classes in SETTINGS_READ_BY.values() for settings_class in classes
}


def settings_environment_names(settings_class: type[BaseSettings] = RuntimeSettings) -> set[str]:
    """Every environment variable a settings class reads, derived from the class itself."""
    prefix = settings_class.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def variables_read_by(container: Manifest) -> set[str]:
    """The environment variables the process a container runs reads: RuntimeSettings', its own
    settings classes', and the libraries'."""
    classes: tuple[type[BaseSettings], ...] = (
        RuntimeSettings,
        *SETTINGS_READ_BY.get(tuple(container.get("args", [])), ()),
    )
    names = set().union(*(settings_environment_names(item) for item in classes))
    return names | LIBRARY_VARIABLES


def dockerfile_labels() -> dict[str, str]:
    return dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', DOCKERFILE))


def intended_image() -> str:
    labels = dockerfile_labels()
    repository = labels["org.opencontainers.image.ref.name"]
    return f"{repository}:{labels['org.opencontainers.image.version']}"


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [manifest for manifest in objects if manifest["kind"] == kind]


def named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    (match,) = [item for item in of_kind(objects, kind) if item["metadata"]["name"] == name]
    return match


def is_telemetry(manifest: Manifest) -> bool:
    return manifest["metadata"]["labels"].get("app.kubernetes.io/component") == "telemetry"


def service_deployments(objects: list[Manifest]) -> list[Manifest]:
    """The services' Deployments (the OpenTelemetry collector's is not one)."""
    return [item for item in of_kind(objects, "Deployment") if not is_telemetry(item)]


def workloads(objects: list[Manifest]) -> list[Manifest]:
    """Everything that runs the singlepot image: services, the migrations Job, the CronJobs."""
    return service_deployments(objects) + of_kind(objects, "Job") + of_kind(objects, "CronJob")


def pod_template(workload: Manifest) -> Manifest:
    spec = workload["spec"]
    template: Manifest = (
        spec["jobTemplate"]["spec"]["template"]
        if workload["kind"] == "CronJob"
        else spec["template"]
    )
    return template


def containers(workload: Manifest) -> list[Manifest]:
    pod = pod_template(workload)["spec"]
    return list(pod.get("initContainers", [])) + list(pod["containers"])


def environment(container: Manifest) -> dict[str, Manifest]:
    return {variable["name"]: variable for variable in container.get("env", [])}


def secret_key(variable: Manifest) -> tuple[str, str]:
    reference = variable["valueFrom"]["secretKeyRef"]
    return reference["name"], reference["key"]


def deployment_for(objects: list[Manifest], service: str) -> Manifest:
    return named(objects, "Deployment", f"singlepot-{service}")


# The gateway runs as three Deployments, one per role (`serve gateway --role R`); its API role
# keeps the service's name (`singlepot-gateway`), the others are named for their role.
GATEWAY_WORKER_ROLES = ("projector", "delivery")


def serve_arguments(service: str) -> list[str]:
    """What a service's (for the gateway: its API role's) Deployment runs."""
    return ["serve", service, "--role", "api"] if service == "gateway" else ["serve", service]


def scalers(objects: list[Manifest]) -> list[tuple[str, int, int]]:
    """(Deployment, least replicas, most replicas) of every autoscaler: the HPAs by CPU, and
    KEDA's ScaledObjects by the work waiting."""
    by_cpu = [
        (
            item["spec"]["scaleTargetRef"]["name"],
            item["spec"]["minReplicas"],
            item["spec"]["maxReplicas"],
        )
        for item in of_kind(objects, "HorizontalPodAutoscaler")
    ]
    by_work = [
        (
            item["spec"]["scaleTargetRef"]["name"],
            item["spec"]["minReplicaCount"],
            item["spec"]["maxReplicaCount"],
        )
        for item in of_kind(objects, "ScaledObject")
    ]
    return by_cpu + by_work


def config_map(objects: list[Manifest]) -> dict[str, str]:
    data: dict[str, str] = named(objects, "ConfigMap", "singlepot-config")["data"]
    return data


def settings_from_config(objects: list[Manifest], monkeypatch: pytest.MonkeyPatch) -> Any:
    """RuntimeSettings as a pod of this overlay would read them (DATABASE_URL from the Secret)."""
    for name in settings_environment_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in config_map(objects).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-the-secret")
    return RuntimeSettings()


def port_number(container: Manifest, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [item["containerPort"] for item in container["ports"] if item["name"] == port]
    return int(number)


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def quantity(value: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "": 1}
    number, unit = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value)).groups()  # type: ignore[union-attr]
    return float(number) * units[unit]


# --- the image ---------------------------------------------------------------------------------


def test_the_dockerfile_builds_one_non_root_python_slim_image_entering_at_singlepot() -> None:
    # A node stage fetches GOV.UK Frontend's assets; the image itself is Python only.
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.MULTILINE) == [
        "node:20-slim",
        "python:3.11-slim",
        "python:3.11-slim",
    ]
    (assets_dir,) = re.findall(r"SINGLEPOT_WEB_ASSETS_DIR=(\S+)", DOCKERFILE)
    assert re.search(
        rf"^COPY --from=assets /src/node_modules/govuk-frontend/dist/govuk {assets_dir}$",
        DOCKERFILE,
        flags=re.MULTILINE,
    ), "the web pages' assets are copied to where the image tells the gateway to find them"
    (swagger_dir,) = re.findall(r"SINGLEPOT_WEB_SWAGGER_UI_DIR=(\S+)", DOCKERFILE)
    assert re.search(
        rf"^COPY --from=assets /src/node_modules/swagger-ui-dist {swagger_dir}$",
        DOCKERFILE,
        flags=re.MULTILINE,
    ), "Swagger UI's assets are copied to where the image tells the gateway to find them"
    assert re.search(r"pip install \.$", DOCKERFILE, flags=re.MULTILINE)
    (entrypoint,) = re.findall(r"^ENTRYPOINT (.+)$", DOCKERFILE, flags=re.MULTILINE)
    assert json.loads(entrypoint) == ["singlepot"]
    assert "singlepot" in PYPROJECT["project"]["scripts"]
    (user,) = re.findall(r"^USER (\d+):(\d+)$", DOCKERFILE, flags=re.MULTILINE)
    assert int(user[0]) != 0 and int(user[1]) != 0


def test_the_image_tag_the_dockerfile_names_is_the_project_version() -> None:
    assert (
        dockerfile_labels()["org.opencontainers.image.version"] == PYPROJECT["project"]["version"]
    )


def test_the_docker_build_context_leaves_out_local_data_and_the_virtualenv() -> None:
    ignored = (REPOSITORY / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".data", ".git", "tests", "node_modules"} <= set(ignored)


def test_every_deployment_and_the_job_run_the_image_the_dockerfile_names(
    objects: list[Manifest],
) -> None:
    images = {
        container["image"] for workload in workloads(objects) for container in containers(workload)
    }
    assert images == {intended_image()}


def test_every_pod_runs_as_the_dockerfile_user(objects: list[Manifest]) -> None:
    (user,) = re.findall(r"^USER (\d+):(\d+)$", DOCKERFILE, flags=re.MULTILINE)
    for workload in workloads(objects):
        security = pod_template(workload)["spec"]["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"]) == (int(user[0]), int(user[1]))


# --- services, ports and probes ----------------------------------------------------------------


def test_there_is_one_deployment_per_service_running_singlepot_serve(
    objects: list[Manifest],
) -> None:
    deployments = service_deployments(objects)
    assert sorted(item["metadata"]["name"] for item in deployments) == sorted(
        [f"singlepot-{name}" for name in SERVICE_NAMES]
        + [f"singlepot-gateway-{role}" for role in GATEWAY_WORKER_ROLES]
    )
    for service in SERVICE_NAMES:
        (container,) = containers(deployment_for(objects, service))
        assert container["args"] == serve_arguments(service)
        assert "command" not in container  # the image's entrypoint is `singlepot`
    for role in GATEWAY_WORKER_ROLES:
        (container,) = containers(deployment_for(objects, f"gateway-{role}"))
        assert container["args"] == ["serve", "gateway", "--role", role]
        assert "command" not in container


def test_the_migrations_job_runs_singlepot_migrate_with_the_service_roles(
    objects: list[Manifest],
) -> None:
    (job,) = of_kind(objects, "Job")
    assert [container["args"] for container in containers(job)] == [["migrate", "--service-roles"]]


def test_the_migrations_job_is_named_for_the_release_its_image_carries(
    objects: list[Manifest],
) -> None:
    (job,) = of_kind(objects, "Job")
    (container,) = containers(job)
    release = container["image"].rsplit(":", 1)[1]
    assert job["metadata"]["name"] == f"singlepot-migrate-{release}"
    assert job["metadata"]["labels"]["app.kubernetes.io/version"] == release
    assert job["spec"]["ttlSecondsAfterFinished"] > 0  # old releases' Jobs go away


def test_the_checks_run_ledger_verify_daily_and_reconcile_hourly_one_at_a_time(
    objects: list[Manifest],
) -> None:
    schedules = {
        tuple(containers(cron_job)[0]["args"]): cron_job["spec"]["schedule"]
        for cron_job in of_kind(objects, "CronJob")
    }
    assert schedules == {("ledger", "verify"): "30 2 * * *", ("reconcile",): "0 * * * *"}
    for cron_job in of_kind(objects, "CronJob"):
        assert cron_job["spec"]["concurrencyPolicy"] == "Forbid"


@pytest.mark.parametrize(
    "args",
    [
        ["ledger", "verify"],
        ["reconcile"],
        ["migrate", "--service-roles"],
    ],
)
def test_the_jobs_arguments_are_commands_the_cli_has(args: list[str]) -> None:
    from typer.testing import CliRunner

    from singlepot.cli import app

    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_container_service_probe_and_policy_ports_are_the_port_the_service_listens_on(
    objects: list[Manifest], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    listens_on = settings_from_config(objects, monkeypatch).health_port(service)
    assert listens_on == RuntimeSettings().health_port(service)  # the overlay keeps the default
    (container,) = containers(deployment_for(objects, service))
    assert [port["containerPort"] for port in container["ports"]] == [listens_on]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert port_number(container, container[probe]["httpGet"]["port"]) == listens_on
    (service_port,) = named(objects, "Service", f"singlepot-{service}")["spec"]["ports"]
    assert port_number(container, service_port["targetPort"]) == listens_on
    for rule in named(objects, "NetworkPolicy", f"singlepot-{service}")["spec"].get("ingress", []):
        assert [port["port"] for port in rule["ports"]] == [listens_on]


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_probes_use_the_health_routes_the_service_really_serves(
    objects: list[Manifest], service: str
) -> None:
    routes = {
        getattr(route, "path", None)
        for route in build_http_app(
            service_definition(service), RuntimeSettings(local_defaults_allowed=True)
        ).routes
    }
    (container,) = containers(deployment_for(objects, service))
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz"} <= routes


def test_the_gateway_listens_on_every_interface_in_the_cluster(
    objects: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_from_config(objects, monkeypatch).gateway_host == "0.0.0.0"


# --- settings and secrets ----------------------------------------------------------------------


def test_every_environment_variable_in_the_manifests_is_one_the_code_reads(
    objects: list[Manifest],
) -> None:
    # The ConfigMap is shared by every container: each key must be read by some settings class.
    everything_read = set().union(*map(settings_environment_names, ALL_SETTINGS_CLASSES))
    assert set(config_map(objects)) - everything_read - LIBRARY_VARIABLES == set()
    used = set(config_map(objects))
    for workload in workloads(objects):
        for container in containers(workload):
            given = set(environment(container))
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    given.update(
                        named(objects, "ConfigMap", source["configMapRef"]["name"])["data"]
                    )
            # A container's own env must be read by the process it runs.
            unread = set(environment(container)) - variables_read_by(container)
            assert unread == set(), (workload["metadata"]["name"], unread)
            used.update(given)
    assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "PGUSER", "PGPASSWORD"} <= used
    assert {"SINGLEPOT_GATEWAY_LEDGER_URL", "SINGLEPOT_RECONCILE_LEDGER_URL"} <= used


def test_a_misspelt_or_misplaced_variable_is_not_one_the_code_reads() -> None:
    gateway = {"args": serve_arguments("gateway")}
    assert "SINGLEPOT_GATEWAY_LEDGER_URL" in variables_read_by(gateway)
    assert "SINGLEPOT_GATEWAY_LEDGER_URI" not in variables_read_by(gateway)
    assert "SINGLEPOT_RECONCILE_LEDGER_URL" not in variables_read_by(gateway)
    assert "SINGLEPOT_LEDGER_REPORT_TOKEN" in variables_read_by({"args": ["serve", "ledger"]})
    assert "SINGLEPOT_LEDGER_REPORT_TOKEN" not in variables_read_by({"args": ["serve", "outcomes"]})
    reconcile = {"args": ["reconcile"]}
    assert {"SINGLEPOT_RECONCILE_LEDGER_URL", "SINGLEPOT_LEDGER_REPORT_TOKEN"} <= (
        variables_read_by(reconcile)
    )
    assert "SINGLEPOT_GATEWAY_LEDGER_URL" not in variables_read_by(reconcile)


def test_the_gateway_and_reconcile_call_the_ledgers_service_with_the_ledgers_token(
    objects: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger_service = named(objects, "Service", "singlepot-ledger")
    (service_port,) = ledger_service["spec"]["ports"]
    ledger_url = f"http://{ledger_service['metadata']['name']}:{service_port['port']}"
    (ledger,) = containers(deployment_for(objects, "ledger"))
    (gateway,) = containers(deployment_for(objects, "gateway"))
    (reconcile,) = containers(named(objects, "CronJob", "singlepot-reconcile"))
    token = secret_key(environment(ledger)["SINGLEPOT_LEDGER_REPORT_TOKEN"])
    assert secret_key(environment(gateway)["SINGLEPOT_LEDGER_REPORT_TOKEN"]) == token
    assert secret_key(environment(reconcile)["SINGLEPOT_LEDGER_REPORT_TOKEN"]) == token
    assert environment(gateway)["SINGLEPOT_GATEWAY_LEDGER_URL"]["value"] == ledger_url
    assert environment(reconcile)["SINGLEPOT_RECONCILE_LEDGER_URL"]["value"] == ledger_url
    # As the processes read them: the same token reaches all three settings classes.
    for name in ("SINGLEPOT_RECONCILE_LEDGER_TOKEN", "SINGLEPOT_GATEWAY_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SINGLEPOT_LEDGER_REPORT_TOKEN", "the-secrets-token")
    monkeypatch.setenv("SINGLEPOT_GATEWAY_LEDGER_URL", ledger_url)
    ledger_reads, gateway_reads = LedgerReportSettings(), GatewaySettings()
    assert ledger_reads.ledger_report_token is not None
    assert gateway_reads.ledger_report_token == ledger_reads.ledger_report_token
    assert gateway_reads.gateway_ledger_url == ledger_url
    assert ReconcileSettings().ledger_headers() == {"Authorization": "Bearer the-secrets-token"}


def test_the_config_map_holds_valid_settings_for_the_cluster(
    objects: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from_config(objects, monkeypatch)
    (kafka,) = of_kind(objects, "Kafka")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert settings.kafka_bootstrap_servers == (
        f"{kafka['metadata']['name']}-kafka-bootstrap:{listener['port']}"
    )
    assert settings.topic_replication_factor == 3
    assert settings.consumer_heartbeat_interval_ms * 3 <= settings.consumer_session_timeout_ms


def test_each_service_logs_in_as_its_own_role_from_that_roles_secret(
    objects: list[Manifest],
) -> None:
    (cluster,) = of_kind(objects, "Cluster")
    managed = {role["name"]: role for role in cluster["spec"]["managed"]["roles"]}
    for service in SERVICE_NAMES:
        (container,) = containers(deployment_for(objects, service))
        env = environment(container)
        secret = f"singlepot-db-{service}"
        assert secret_key(env["PGUSER"]) == (secret, "username")
        assert secret_key(env["PGPASSWORD"]) == (secret, "password")
        # The role the migrations grant to is the one the operator creates with that Secret.
        role = managed[service_role(service)]
        assert role["passwordSecret"]["name"] == secret
        assert role["login"] is True and role.get("superuser", False) is False


def test_the_database_url_names_the_primary_and_no_credentials(objects: list[Manifest]) -> None:
    (cluster,) = of_kind(objects, "Cluster")
    primary = f"{cluster['metadata']['name']}-rw"  # CloudNativePG's Service for the primary
    database = cluster["spec"]["bootstrap"]["initdb"]["database"]
    for workload in service_deployments(objects) + of_kind(objects, "CronJob"):
        for container in containers(workload):
            url = environment(container)["DATABASE_URL"]["value"]
            assert url == f"postgresql://{primary}:5432/{database}"
            assert "@" not in url


def test_only_the_migrations_job_logs_in_as_the_owner_verify_as_auditor_reconcile_as_gateway(
    objects: list[Manifest],
) -> None:
    (cluster,) = of_kind(objects, "Cluster")
    (job,) = of_kind(objects, "Job")
    (container,) = containers(job)
    owner_secret = f"{cluster['metadata']['name']}-app"
    assert secret_key(environment(container)["DATABASE_URL"]) == (owner_secret, "uri")
    managed = {role["name"]: role for role in cluster["spec"]["managed"]["roles"]}
    # Verify only reads; reconcile also records its run in gateway.reconciliation_runs.
    roles = {
        "singlepot-ledger-verify": AUDITOR_ROLE,
        "singlepot-reconcile": service_role("gateway"),
    }
    for cron_job in of_kind(objects, "CronJob"):
        (check,) = containers(cron_job)
        secret = managed[roles[cron_job["metadata"]["name"]]]["passwordSecret"]["name"]
        assert secret_key(environment(check)["PGUSER"]) == (secret, "username")
        assert secret_key(environment(check)["PGPASSWORD"]) == (secret, "password")
    for workload in service_deployments(objects) + of_kind(objects, "CronJob"):
        for other in containers(workload):
            referenced = {
                secret_key(variable)[0]
                for variable in other.get("env", [])
                if "secretKeyRef" in variable.get("valueFrom", {})
            }
            assert owner_secret not in referenced


def test_secrets_are_only_referenced_never_defined_or_inlined(objects: list[Manifest]) -> None:
    assert of_kind(objects, "Secret") == []
    (cluster,) = of_kind(objects, "Cluster")
    allowed = {
        f"{cluster['metadata']['name']}-app",
        "singlepot-secrets",
        *(f"singlepot-db-{service}" for service in SERVICE_NAMES),
        "singlepot-db-auditor",
        "singlepot-ledger-report",
        "singlepot-pseudonym-key",
    }
    referenced = set()
    for workload in workloads(objects):
        for container in containers(workload):
            for variable in container.get("env", []):
                if "secretKeyRef" in variable.get("valueFrom", {}):
                    referenced.add(variable["valueFrom"]["secretKeyRef"]["name"])
                assert "value" not in variable or not re.search(
                    "PASSWORD|TOKEN|SECRET", variable["name"]
                )
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    referenced.add(source["secretRef"]["name"])
    assert referenced == allowed
    assert not [key for key in config_map(objects) if re.search("PASSWORD|TOKEN|SECRET|URL", key)]


# --- security ----------------------------------------------------------------------------------


def test_every_workload_is_non_root_read_only_unprivileged_and_bounded(
    objects: list[Manifest],
) -> None:
    for workload in workloads(objects):
        pod = pod_template(workload)["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        tmp_volumes = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
        for container in containers(workload):
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert any(
                mount["mountPath"] == "/tmp" and mount["name"] in tmp_volumes
                for mount in container["volumeMounts"]
            )
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                assert quantity(resources["requests"][resource]) <= quantity(
                    resources["limits"][resource]
                )


def test_every_deployment_has_startup_liveness_and_readiness_probes(
    objects: list[Manifest],
) -> None:
    for deployment in service_deployments(objects):
        for container in containers(deployment):
            assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(container)


# --- scaling, disruption and the database budget -----------------------------------------------


def test_every_deployment_has_its_service_autoscaler_and_disruption_budget(
    objects: list[Manifest],
) -> None:
    workers = {f"singlepot-gateway-{role}" for role in GATEWAY_WORKER_ROLES}
    for deployment in service_deployments(objects):
        name = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
        if name in workers:
            # No Service (nothing calls them); KEDA scales them by the work waiting.
            assert not [
                item for item in of_kind(objects, "Service") if item["metadata"]["name"] == name
            ]
            scaler = named(objects, "ScaledObject", name)
            assert scaler["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
            }
            assert selects(
                named(objects, "PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"],
                labels,
            )
            continue
        assert selects(named(objects, "Service", name)["spec"]["selector"], labels)
        assert selects(
            named(objects, "PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"], labels
        )
        autoscaler = named(objects, "HorizontalPodAutoscaler", name)
        assert autoscaler["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]


def test_no_service_scales_past_the_partitions_its_consumers_can_use(
    objects: list[Manifest],
) -> None:
    partitions = min(topic["spec"]["partitions"] for topic in of_kind(objects, "KafkaTopic"))
    for _, _, most in scalers(objects):
        assert most <= partitions


def test_postgresql_accepts_every_connection_the_services_can_open_at_full_scale(
    objects: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_size = settings_from_config(objects, monkeypatch).database_pool_size_max
    pods = sum(most for _, _, most in scalers(objects))
    (cluster,) = of_kind(objects, "Cluster")
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    assert pods * pool_size + RESERVED_DATABASE_CONNECTIONS <= max_connections


# --- Kafka and topics --------------------------------------------------------------------------


def test_there_is_one_kafka_topic_per_contract_topic_with_three_replicas_and_two_in_sync(
    objects: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka_topics = of_kind(objects, "KafkaTopic")
    (kafka,) = of_kind(objects, "Kafka")
    settings = settings_from_config(objects, monkeypatch)
    assert sorted(topic["spec"]["topicName"] for topic in kafka_topics) == sorted(topics.ALL_TOPICS)
    assert topics.DEAD_LETTER in {topic["spec"]["topicName"] for topic in kafka_topics}
    for topic in kafka_topics:
        assert topic["metadata"]["name"] == topic["spec"]["topicName"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
        assert topic["spec"]["partitions"] == settings.topic_partitions


def test_kafka_runs_in_kraft_mode_with_enough_nodes_for_three_replicas(
    objects: list[Manifest],
) -> None:
    (kafka,) = of_kind(objects, "Kafka")
    pools = of_kind(objects, "KafkaNodePool")
    assert all(
        pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        for pool in pools
    )
    brokers = sum(pool["spec"]["replicas"] for pool in pools if "broker" in pool["spec"]["roles"])
    controllers = [pool for pool in pools if "controller" in pool["spec"]["roles"]]
    assert brokers >= 3 and controllers
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2
    assert config["auto.create.topics.enable"] is False


# --- network policies --------------------------------------------------------------------------


def test_a_default_deny_policy_covers_every_singlepot_pod(objects: list[Manifest]) -> None:
    deny = named(objects, "NetworkPolicy", "singlepot-default-deny")["spec"]
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny
    for workload in workloads(objects) + of_kind(objects, "Deployment"):
        assert selects(
            deny["podSelector"]["matchLabels"], pod_template(workload)["metadata"]["labels"]
        )


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_services_reach_only_kafka_postgresql_the_collector_dns_and_the_ledgers_reports(
    objects: list[Manifest], service: str
) -> None:
    policy = named(objects, "NetworkPolicy", f"singlepot-{service}")["spec"]
    labels = deployment_for(objects, service)["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["podSelector"]["matchLabels"], labels)
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert all(rule.get("to") for rule in policy["egress"])  # never "to anywhere"
    if service == "gateway":
        (rule,) = policy["ingress"]
        assert "from" not in rule  # the public API: from anywhere, on its port only
        # And the ledger's reports for auditors; webhooks are the delivery role's.
        assert egress_ports == {9092, 5432, OTLP_HTTP_PORT, 53, LEDGER_PORT}
    elif service == "ledger":
        (rule,) = policy["ingress"]
        assert rule["from"]  # its report routes: for some callers only (test_deploy_network_reach)
        assert egress_ports == {9092, 5432, OTLP_HTTP_PORT, 53}
    else:
        assert policy.get("ingress", []) == []
        assert egress_ports == {9092, 5432, OTLP_HTTP_PORT, 53}


@pytest.mark.parametrize("role", GATEWAY_WORKER_ROLES)
def test_the_gateways_worker_roles_take_no_ingress_and_only_delivery_reaches_receivers(
    objects: list[Manifest], role: str
) -> None:
    name = f"singlepot-gateway-{role}"
    policy = named(objects, "NetworkPolicy", name)["spec"]
    labels = deployment_for(objects, f"gateway-{role}")["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["podSelector"]["matchLabels"], labels)
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert policy.get("ingress", []) == []  # only the API role is reached from outside
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert all(rule.get("to") for rule in policy["egress"])
    webhooks = {HTTPS_PORT} if role == "delivery" else set()
    assert egress_ports == {9092, 5432, OTLP_HTTP_PORT, 53} | webhooks


def test_the_projector_scales_by_its_consumer_groups_lag_and_delivery_by_deliveries_due(
    objects: list[Manifest],
) -> None:
    triggers = named(objects, "ScaledObject", "singlepot-gateway-projector")["spec"]["triggers"]
    projector = gateway_definition(GatewaySettings(), Role.PROJECTOR)
    groups = consumer_groups("gateway", projector.subscriptions, projector.separate_groups)
    # One trigger per consumer group the projector runs (its own, and the spend topic's).
    assert sorted(lag["metadata"]["consumerGroup"] for lag in triggers) == sorted(
        RuntimeSettings().consumer_group(group) for group, _ in groups
    )
    for lag in triggers:
        assert lag["type"] == "kafka"
        assert "topic" not in lag["metadata"]  # every topic the group reads
    (due,) = named(objects, "ScaledObject", "singlepot-gateway-delivery")["spec"]["triggers"]
    assert due["type"] == "postgresql"
    assert "gateway.webhook_deliveries" in due["metadata"]["query"]
    secrets = named(objects, "TriggerAuthentication", due["authenticationRef"]["name"])
    assert {ref["name"] for ref in secrets["spec"]["secretTargetRef"]} == {"singlepot-db-gateway"}


def test_webhook_egress_reaches_public_https_receivers_but_not_private_or_metadata_addresses(
    objects: list[Manifest],
) -> None:
    policy = named(objects, "NetworkPolicy", "singlepot-gateway-delivery")["spec"]
    (rule,) = [
        rule for rule in policy["egress"] if HTTPS_PORT in {port["port"] for port in rule["ports"]}
    ]
    ((peer,),) = [rule["to"]]
    assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
        peer["ipBlock"]["except"]
    )


def test_the_migrations_job_may_reach_only_postgresql_and_dns(objects: list[Manifest]) -> None:
    policy = named(objects, "NetworkPolicy", "singlepot-migrate")["spec"]
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert egress_ports == {5432, 53}


def test_the_checks_may_reach_only_postgresql_the_ledgers_reports_the_collector_and_dns(
    objects: list[Manifest],
) -> None:
    policy = named(objects, "NetworkPolicy", "singlepot-checks")["spec"]
    for cron_job in of_kind(objects, "CronJob"):
        assert selects(
            policy["podSelector"]["matchLabels"], pod_template(cron_job)["metadata"]["labels"]
        )
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert egress_ports == {5432, LEDGER_PORT, OTLP_HTTP_PORT, 53}
    assert policy.get("ingress", []) == []


# --- the overlay as a whole --------------------------------------------------------------------


def test_everything_in_an_overlay_lives_in_the_namespace_it_creates(
    objects: list[Manifest],
) -> None:
    (namespace,) = of_kind(objects, "Namespace")
    name = namespace["metadata"]["name"]
    assert {
        manifest["metadata"].get("namespace") for manifest in objects if manifest is not namespace
    } == {name}
