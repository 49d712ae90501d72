"""A small kustomize renderer for the subset deploy/k8s uses, so its tests need no binary.

No PyPI package ships kustomize or kubectl, so this renders what our kustomizations use and
refuses everything else with a clear error, rather than guessing: `resources` (files and
directories), `namespace`, `images` and `patches` (strategic merge, with an optional
`target` by kind, name and label selector). Where `kubectl` is installed, a test compares
this renderer's output with `kubectl kustomize` object by object.

    python -m tests.deploy.kustomize_renderer deploy/k8s/overlays/dev
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = frozenset({"apiVersion", "kind", "resources", "namespace", "images", "patches"})
SUPPORTED_TARGET_FIELDS = frozenset({"kind", "name", "labelSelector"})
# Kinds that live outside any namespace; the namespace transformer leaves them alone.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
# API groups of Kubernetes' own kinds: their lists merge by key in a strategic merge patch.
# Custom resources have no patch strategy, so their lists are replaced whole (as kustomize does).
BUILT_IN_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling"})
NAME_MERGE_KEYS = frozenset({"containers", "initContainers", "env", "volumes", "imagePullSecrets"})

Manifest = dict[str, Any]


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not support, or is wrong."""


def render(directory: Path) -> list[Manifest]:
    """Every object the kustomization in `directory` produces, transformed as kustomize would."""
    directory = Path(directory)
    kustomization = _load_kustomization(directory)
    objects: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects.extend(render(path))
        elif path.is_file():
            objects.extend(load_documents(path))
        else:
            raise KustomizeError(f"{directory}: resource {entry!r} does not exist")
    for patch_entry in kustomization.get("patches", []):
        _apply_patch_entry(directory, patch_entry, objects)
    if "namespace" in kustomization:
        for manifest in objects:
            if manifest["kind"] not in CLUSTER_SCOPED_KINDS:
                manifest["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for manifest in objects:
            _set_image(manifest, image)
    _check_unique(objects, directory)
    return objects


def load_documents(path: Path) -> list[Manifest]:
    """The non-empty YAML documents of a file, each required to name its apiVersion and kind."""
    documents = [
        document
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if document is not None
    ]
    for document in documents:
        if not isinstance(document, dict) or not {"apiVersion", "kind", "metadata"} <= set(
            document
        ):
            raise KustomizeError(f"{path}: every document needs apiVersion, kind and metadata")
    return documents


def identity(manifest: Manifest) -> tuple[str, str, str, str]:
    """What names an object uniquely: API version, kind, namespace and name."""
    metadata = manifest["metadata"]
    return (
        manifest["apiVersion"],
        manifest["kind"],
        metadata.get("namespace", ""),
        metadata["name"],
    )


def _load_kustomization(directory: Path) -> Manifest:
    for name in KUSTOMIZATION_FILE_NAMES:
        path = directory / name
        if path.is_file():
            kustomization = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            unsupported = set(kustomization) - SUPPORTED_FIELDS
            if unsupported:
                raise KustomizeError(
                    f"{path}: this renderer does not support {', '.join(sorted(unsupported))}; "
                    f"it supports {', '.join(sorted(SUPPORTED_FIELDS))}"
                )
            return dict(kustomization)
    raise KustomizeError(f"{directory} has no kustomization.yaml")


def _apply_patch_entry(directory: Path, entry: Manifest, objects: list[Manifest]) -> None:
    if "path" in entry:
        documents = load_documents(directory / entry["path"])
    elif "patch" in entry:
        documents = [document for document in yaml.safe_load_all(entry["patch"]) if document]
    else:
        raise KustomizeError(f"{directory}: a patch needs `path` or `patch`")
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise KustomizeError(
            f"{directory}: each patch must be one strategic-merge document (JSON 6902 patches "
            "and multi-document patches are not supported)"
        )
    patch = documents[0]
    target = entry.get("target")
    if target is None:
        matches = [
            manifest
            for manifest in objects
            if manifest["kind"] == patch["kind"]
            and manifest["metadata"]["name"] == patch["metadata"]["name"]
        ]
    else:
        unsupported = set(target) - SUPPORTED_TARGET_FIELDS
        if unsupported:
            raise KustomizeError(
                f"{directory}: patch targets by {', '.join(sorted(unsupported))} are not supported"
            )
        matches = [manifest for manifest in objects if _targeted(manifest, target)]
    if not matches:
        raise KustomizeError(f"{directory}: patch {entry} matches no object")
    for manifest in matches:
        body = {key: value for key, value in patch.items() if key not in ("apiVersion", "kind")}
        metadata = dict(body.get("metadata", {}))
        metadata.pop("name", None)  # a patch never renames its target
        body["metadata"] = metadata
        _merge(manifest, body, built_in=_group(manifest["apiVersion"]) in BUILT_IN_GROUPS, path=())


def _targeted(manifest: Manifest, target: Manifest) -> bool:
    if "kind" in target and not re.fullmatch(target["kind"], manifest["kind"]):
        return False
    if "name" in target and not re.fullmatch(target["name"], manifest["metadata"]["name"]):
        return False
    if "labelSelector" in target:
        labels = manifest["metadata"].get("labels", {})
        for requirement in target["labelSelector"].split(","):
            key, _, value = requirement.partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _merge(base: Manifest, patch: Manifest, *, built_in: bool, path: tuple[str, ...]) -> None:
    """Strategic merge: maps merge, `null` deletes, built-in keyed lists merge by key."""
    for key, value in patch.items():
        if isinstance(key, str) and key.startswith("$"):
            raise KustomizeError(f"patch directive {key!r} at {'/'.join(path)} is not supported")
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, built_in=built_in, path=(*path, key))
        elif isinstance(value, list) and isinstance(base.get(key), list) and built_in:
            merge_key = _merge_key(key, path)
            if merge_key is None:
                base[key] = copy.deepcopy(value)
            else:
                _merge_keyed_list(base[key], value, merge_key, built_in, (*path, key))
        else:
            base[key] = copy.deepcopy(value)


def _merge_key(field: str, path: tuple[str, ...]) -> str | None:
    if field in NAME_MERGE_KEYS:
        return "name"
    if field == "volumeMounts":
        return "mountPath"
    if field == "ports":
        return "containerPort" if "containers" in path or "initContainers" in path else "port"
    return None


def _merge_keyed_list(
    base: list[Any], patch: list[Any], merge_key: str, built_in: bool, path: tuple[str, ...]
) -> None:
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise KustomizeError(f"each item patched into {'/'.join(path)} needs {merge_key!r}")
        existing = next(
            (
                old
                for old in base
                if isinstance(old, dict) and old.get(merge_key) == item[merge_key]
            ),
            None,
        )
        if existing is None:
            base.append(copy.deepcopy(item))
        else:
            _merge(existing, item, built_in=built_in, path=path)


def _set_image(node: Any, image: Manifest) -> None:
    """kustomize's `images`: rewrite every container image whose name matches."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    if isinstance(container, dict) and "image" in container:
                        container["image"] = _new_image(container["image"], image)
            _set_image(value, image)
    elif isinstance(node, list):
        for item in node:
            _set_image(item, image)


def _new_image(current: str, image: Manifest) -> str:
    name, tag, digest = _split_image(current)
    if name != image["name"]:
        return current
    name = image.get("newName", name)
    if "digest" in image:
        return f"{name}@{image['digest']}"
    if "newTag" in image:
        return f"{name}:{image['newTag']}"
    if digest:
        return f"{name}@{digest}"
    return f"{name}:{tag}" if tag else name


def _split_image(reference: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference; a registry port is not a tag."""
    name, _, digest = reference.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


def _check_unique(objects: list[Manifest], directory: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for manifest in objects:
        key = identity(manifest)
        if key in seen:
            raise KustomizeError(f"{directory}: {key} is defined twice")
        seen.add(key)


if __name__ == "__main__":  # pragma: no cover - a convenience for people, not for tests
    print(yaml.safe_dump_all(render(Path(sys.argv[1])), sort_keys=False), end="")
