"""Every rendered object is valid against Kubernetes' own schemas or its operator's CRD schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

from tests.deploy.conftest import K8S

# The oldest Kubernetes the manifests promise to work on (autoscaling/v2, policy/v1 and
# pod-security labels are all older), and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", latest_version())
CRD_SCHEMA_FILES = sorted((K8S / "schemas").glob("*.json"))


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in CRD_SCHEMA_FILES:
        schema = json.loads(path.read_text(encoding="utf-8"))
        properties = schema["properties"]
        schemas[(properties["apiVersion"]["const"], properties["kind"]["const"])] = schema
    return schemas


CRD_SCHEMAS = crd_schemas()


def is_custom_resource(manifest: dict[str, Any]) -> bool:
    return (manifest["apiVersion"], manifest["kind"]) in CRD_SCHEMAS


def crd_errors(manifest: dict[str, Any]) -> list[str]:
    schema = CRD_SCHEMAS[(manifest["apiVersion"], manifest["kind"])]
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]


@pytest.mark.parametrize("path", CRD_SCHEMA_FILES, ids=lambda path: Path(path).name)
def test_each_vendored_crd_schema_is_itself_a_valid_json_schema(path: Path) -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_the_crd_schemas_cover_strimzi_kafka_node_pools_topics_and_cloudnativepg_clusters() -> None:
    assert set(CRD_SCHEMAS) == {
        ("kafka.strimzi.io/v1", "Kafka"),
        ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("kafka.strimzi.io/v1", "KafkaTopic"),
        ("postgresql.cnpg.io/v1", "Cluster"),
    }


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_built_in_object_is_valid_against_the_strict_kubernetes_schema(
    objects: list[dict[str, Any]], version: str
) -> None:
    failures = []
    for manifest in objects:
        if is_custom_resource(manifest):
            continue
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(part) for part in error.path)
            failures.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {path}: {error}")
        except kubernetes_validate.SchemaNotFoundError as error:
            failures.append(error.message)
    assert failures == []


def test_every_custom_resource_is_valid_against_its_crd_schema(
    objects: list[dict[str, Any]],
) -> None:
    failures = {
        f"{manifest['kind']}/{manifest['metadata']['name']}": errors
        for manifest in objects
        if is_custom_resource(manifest) and (errors := crd_errors(manifest))
    }
    assert failures == {}


def test_the_overlay_has_custom_resources_of_every_kind_the_schemas_cover(
    objects: list[dict[str, Any]],
) -> None:
    kinds = {(manifest["apiVersion"], manifest["kind"]) for manifest in objects}
    assert set(CRD_SCHEMAS) <= kinds


def test_the_kubernetes_validator_rejects_an_unknown_field_and_a_wrong_type(
    objects: list[dict[str, Any]],
) -> None:
    deployment = next(manifest for manifest in objects if manifest["kind"] == "Deployment")
    unknown_field = copy.deepcopy(deployment)
    unknown_field["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    for broken in (unknown_field, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, latest_version(), strict=True)


def test_the_crd_schemas_reject_a_typo_a_wrong_type_and_a_missing_required_field(
    objects: list[dict[str, Any]],
) -> None:
    topic = next(manifest for manifest in objects if manifest["kind"] == "KafkaTopic")
    typo = copy.deepcopy(topic)
    typo["spec"]["replica"] = typo["spec"].pop("replicas")
    wrong_type = copy.deepcopy(topic)
    wrong_type["spec"]["partitions"] = "twelve"
    kafka = next(manifest for manifest in objects if manifest["kind"] == "Kafka")
    missing = copy.deepcopy(kafka)
    del missing["spec"]["kafka"]["listeners"][0]["tls"]
    for broken in (typo, wrong_type, missing):
        assert crd_errors(broken) != []
