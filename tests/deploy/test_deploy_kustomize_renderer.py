"""The test renderer does what kustomize does for the subset we use, and refuses the rest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from tests.deploy.conftest import K8S, OVERLAYS
from tests.deploy.kustomize_renderer import KustomizeError, identity, render

BASE_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: example
          env:
            - name: KEEP
              value: "1"
            - name: CHANGE
              value: old
        - name: sidecar
          image: other:1.0
"""


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
    return directory


def test_namespace_and_images_are_applied_and_cluster_scoped_objects_keep_no_namespace(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [deployment.yaml]\n",
            "base/deployment.yaml": BASE_DEPLOYMENT,
            "overlay/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: here}\n",
            "overlay/kustomization.yaml": """
                namespace: here
                resources: [namespace.yaml, ../base]
                images:
                  - {name: example, newName: registry.local:5000/example, newTag: "2.0"}
            """,
        },
    )
    namespace, deployment = render(tmp_path / "overlay")
    assert "namespace" not in namespace["metadata"]
    assert deployment["metadata"]["namespace"] == "here"
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [container["image"] for container in containers] == [
        "registry.local:5000/example:2.0",
        "other:1.0",
    ]


def test_a_strategic_merge_patch_merges_containers_and_env_by_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "deployment.yaml": BASE_DEPLOYMENT,
            "patch.yaml": """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  template:
                    spec:
                      containers:
                        - name: web
                          env:
                            - {name: CHANGE, value: new}
                            - {name: ADDED, value: "3"}
            """,
            "kustomization.yaml": "resources: [deployment.yaml]\npatches: [{path: patch.yaml}]\n",
        },
    )
    (deployment,) = render(tmp_path)
    web, sidecar = deployment["spec"]["template"]["spec"]["containers"]
    assert web["image"] == "example"
    assert web["env"] == [
        {"name": "KEEP", "value": "1"},
        {"name": "CHANGE", "value": "new"},
        {"name": "ADDED", "value": "3"},
    ]
    assert sidecar == {"name": "sidecar", "image": "other:1.0"}


def test_a_targeted_patch_applies_to_every_object_of_the_kind_and_replaces_custom_lists(
    tmp_path: Path,
) -> None:
    topics = "\n---\n".join(
        f"apiVersion: example.io/v1\nkind: Topic\nmetadata: {{name: {name}}}\n"
        f"spec: {{partitions: 1, hosts: [a, b]}}"
        for name in ("one", "two")
    )
    write(
        tmp_path,
        {
            "topics.yaml": topics,
            "patch.yaml": "apiVersion: example.io/v1\nkind: Topic\nmetadata: {name: any}\n"
            "spec: {partitions: 6, hosts: [c]}\n",
            "kustomization.yaml": "resources: [topics.yaml]\n"
            "patches: [{path: patch.yaml, target: {kind: Topic}}]\n",
        },
    )
    assert [(topic["metadata"]["name"], topic["spec"]) for topic in render(tmp_path)] == [
        ("one", {"partitions": 6, "hosts": ["c"]}),
        ("two", {"partitions": 6, "hosts": ["c"]}),
    ]


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ("resources: [deployment.yaml]\nnamePrefix: x-\n", "does not support namePrefix"),
        ("resources: [missing.yaml]\n", "does not exist"),
        (
            "resources: [deployment.yaml]\npatches:\n  - patch: |\n"
            "      {apiVersion: v1, kind: ConfigMap, metadata: {name: nowhere}}\n",
            "matches no object",
        ),
        ("resources: [deployment.yaml, deployment.yaml]\n", "is defined twice"),
    ],
)
def test_what_the_renderer_cannot_do_faithfully_fails_with_a_clear_error(
    tmp_path: Path, kustomization: str, message: str
) -> None:
    write(tmp_path, {"deployment.yaml": BASE_DEPLOYMENT, "kustomization.yaml": kustomization})
    with pytest.raises(KustomizeError, match=message):
        render(tmp_path)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_every_overlay_renders_exactly_as_kubectl_kustomize_renders_it(overlay_name: str) -> None:
    directory = K8S / "overlays" / overlay_name
    output = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    expected = {identity(item): item for item in yaml.safe_load_all(output) if item}
    actual = {identity(item): item for item in render(directory)}
    assert sorted(actual) == sorted(expected)
    for key, item in actual.items():
        assert item == expected[key], f"{key} differs from kubectl kustomize"
