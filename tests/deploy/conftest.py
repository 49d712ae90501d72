"""Fixtures for the Kubernetes manifest tests: every overlay rendered once, and its objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.kustomize_renderer import render

REPOSITORY = Path(__file__).resolve().parents[2]
K8S = REPOSITORY / "deploy" / "k8s"
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())


@pytest.fixture(scope="session")
def rendered_overlays() -> dict[str, list[dict[str, Any]]]:
    """Every overlay, rendered by the test renderer (the same output as `kubectl kustomize`)."""
    return {overlay: render(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def objects(rendered_overlays: dict[str, list[dict[str, Any]]], overlay: str) -> list[dict]:
    """The objects of one overlay."""
    return rendered_overlays[overlay]
