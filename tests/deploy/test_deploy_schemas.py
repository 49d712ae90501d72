"""Every rendered object is valid against Kubernetes' own schemas or its operator's own CRD."""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

from tests.deploy import crd_schemas
from tests.deploy.conftest import K8S

# The oldest Kubernetes the manifests promise to work on (CronJob time zones, autoscaling/v2,
# policy/v1 and pod-security labels are all older), and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", latest_version())
CRDS = K8S / "crds"
CRD_FILES = sorted(CRDS.glob("*.yaml"))
CRD_VALIDATORS = crd_schemas.validators(CRD_FILES)

Manifest = dict[str, Any]


def is_custom_resource(manifest: Manifest) -> bool:
    return (manifest["apiVersion"], manifest["kind"]) in CRD_VALIDATORS


def crd_errors(manifest: Manifest) -> list[str]:
    return crd_schemas.errors(CRD_VALIDATORS[(manifest["apiVersion"], manifest["kind"])], manifest)


def first(objects: list[Manifest], kind: str) -> Manifest:
    return copy.deepcopy(next(manifest for manifest in objects if manifest["kind"] == kind))


# --- the vendored CRDs -------------------------------------------------------------------------


def test_each_vendored_crd_is_recorded_with_its_repository_path_and_commit() -> None:
    sources = (CRDS / "SOURCES.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| `([^`]+)` \| \[([\w.-]+/[\w.-]+)\]\([^)]+\) \| `([^`]+)` \| `([0-9a-f]{40})` \|$",
        sources,
        flags=re.MULTILINE,
    )
    assert sorted(row[0] for row in rows) == sorted(path.name for path in CRD_FILES)
    for file_name, _repository, path, _commit in rows:
        assert path.endswith(file_name)


def test_each_vendored_file_is_a_custom_resource_definition_and_nothing_else() -> None:
    for path in CRD_FILES:
        (document,) = crd_schemas.load(path)
        assert (document["apiVersion"], document["kind"]) == (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
        )


def test_the_crds_cover_strimzi_cloudnativepg_prometheus_operator_and_keda_kinds_in_use() -> None:
    assert set(CRD_VALIDATORS) == {
        ("kafka.strimzi.io/v1", "Kafka"),
        ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("kafka.strimzi.io/v1", "KafkaTopic"),
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("postgresql.cnpg.io/v1", "ScheduledBackup"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("keda.sh/v1alpha1", "TriggerAuthentication"),
    }


# --- every object of every kustomization -------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_built_in_object_is_valid_against_the_strict_kubernetes_schema(
    kustomization_objects: list[Manifest], version: str
) -> None:
    failures = []
    for manifest in kustomization_objects:
        if is_custom_resource(manifest):
            continue
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(part) for part in error.path)
            failures.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {path}: {error}")
        except kubernetes_validate.SchemaNotFoundError as error:
            failures.append(error.message)  # also a custom resource with no vendored CRD
    assert failures == []


def test_every_custom_resource_is_valid_against_its_operators_crd(
    kustomization_objects: list[Manifest],
) -> None:
    failures = {
        f"{manifest['kind']}/{manifest['metadata']['name']}": errors
        for manifest in kustomization_objects
        if is_custom_resource(manifest) and (errors := crd_errors(manifest))
    }
    assert failures == {}


def test_an_overlay_uses_every_kind_the_vendored_crds_cover(objects: list[Manifest]) -> None:
    kinds = {(manifest["apiVersion"], manifest["kind"]) for manifest in objects}
    assert set(CRD_VALIDATORS) <= kinds


# --- the validators refuse what the API server would -------------------------------------------


def test_the_kubernetes_validator_rejects_an_unknown_field_and_a_wrong_type(
    objects: list[Manifest],
) -> None:
    deployment = first(objects, "Deployment")
    unknown_field = copy.deepcopy(deployment)
    unknown_field["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    for broken in (unknown_field, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, latest_version(), strict=True)


def test_the_crds_reject_a_typo_a_wrong_type_a_missing_field_and_a_value_not_allowed(
    objects: list[Manifest],
) -> None:
    typo = first(objects, "KafkaTopic")
    typo["spec"]["replica"] = typo["spec"].pop("replicas")
    wrong_type = first(objects, "KafkaTopic")
    wrong_type["spec"]["partitions"] = "twelve"
    no_destination = first(objects, "Cluster")
    del no_destination["spec"]["backup"]["barmanObjectStore"]["destinationPath"]
    bad_method = first(objects, "ScheduledBackup")
    bad_method["spec"]["method"] = "tape"
    endpoint_typo = first(objects, "PodMonitor")
    endpoint_typo["spec"]["podMetricsEndpoints"][0]["intervall"] = "30s"
    rule_without_expression = first(objects, "PrometheusRule")
    del rule_without_expression["spec"]["groups"][0]["rules"][0]["expr"]
    scaler_without_target = first(objects, "ScaledObject")
    del scaler_without_target["spec"]["scaleTargetRef"]
    secret_without_key = first(objects, "TriggerAuthentication")
    del secret_without_key["spec"]["secretTargetRef"][0]["key"]
    for broken in (
        typo,
        wrong_type,
        no_destination,
        bad_method,
        endpoint_typo,
        rule_without_expression,
        scaler_without_target,
        secret_without_key,
    ):
        assert crd_errors(broken) != [], broken["kind"]


def test_free_form_fields_the_crd_leaves_open_stay_open(objects: list[Manifest]) -> None:
    topic = first(objects, "KafkaTopic")
    topic["spec"]["config"]["segment.bytes"] = 1073741824
    assert crd_errors(topic) == []
