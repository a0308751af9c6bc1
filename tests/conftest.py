"""Shared fixtures: simulator runs made once per test session."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from yingyan.sim.library import load_builtin
from yingyan.sim.runner import RunOptions, run_scenario

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_or_skip(*parts: str) -> Path:
    """Path under ../shared; skip when absent, but fail in CI, where it must be present."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: CI must have ../shared beside the checkout")
        pytest.skip(f"{path} not present (shared test data lives in ../shared)")
    return path


def load_manifest(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def stall_truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """corridor-stall, ground truth only (no video), first 600 s."""
    out = tmp_path_factory.mktemp("runs") / "stall"
    return run_scenario(load_builtin("corridor-stall"), out, RunOptions(seed=3, duration_s=600, render=False))


@pytest.fixture(scope="session")
def peak_truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """corridor-peak, ground truth only."""
    out = tmp_path_factory.mktemp("runs") / "peak"
    return run_scenario(load_builtin("corridor-peak"), out, RunOptions(seed=2, render=False))


@pytest.fixture(scope="session")
def parking_rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kerb-illegal-parking rendered at 640x360 (not the library's 1280x720: a quarter of the pixels for the
    same story), 5 fps, first 240 s (the car parks in view of K2 at ~125 s)."""
    out = tmp_path_factory.mktemp("runs") / "parking"
    options = RunOptions(seed=3, duration_s=240, fps=5, size=(640, 360), workers=2)
    return run_scenario(load_builtin("kerb-illegal-parking"), out, options)


@pytest.fixture(scope="session")
def night_rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """night-stall rendered small and short: the stall happens in view of one camera."""
    out = tmp_path_factory.mktemp("runs") / "night"
    return run_scenario(
        load_builtin("night-stall"), out, RunOptions(seed=1, duration_s=230, fps=5, size=(320, 180), workers=2)
    )


SHORT_STALL = Path(__file__).resolve().parent / "data" / "short-stall.yaml"


@pytest.fixture(scope="session")
def short_stall_eval(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`yingyan eval` of the short CI stall (simulated, rendered, analysed, scored): its output folder."""
    from typer.testing import CliRunner

    from yingyan.cli import app

    out = tmp_path_factory.mktemp("eval")
    result = CliRunner().invoke(app, ["eval", str(SHORT_STALL), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out
