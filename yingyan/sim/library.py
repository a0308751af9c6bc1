"""The built-in scenario library (YAML files shipped inside the package)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from yingyan.config import load_model, validate_mapping
from yingyan.errors import ConfigError
from yingyan.sim.scenario import Scenario

DEFAULT_SCENARIO = "corridor-stall"


def _library() -> resources.abc.Traversable:
    return resources.files("yingyan.sim").joinpath("library")


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(p.name.removesuffix(".yaml") for p in _library().iterdir() if p.name.endswith(".yaml"))


def load_builtin(name: str) -> Scenario:
    """Load a built-in scenario by name."""
    entry = _library().joinpath(f"{name}.yaml")
    if not entry.is_file():
        raise ConfigError(f"unknown scenario {name!r}; built-in scenarios: {', '.join(builtin_names())}")
    return validate_mapping(Scenario, yaml.safe_load(entry.read_text(encoding="utf-8")), f"built-in scenario {name}")


def resolve_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, a family's scenario by ``FAMILY-sSEED`` (``arterial-incidents-s7``), or a
    scenario file by path."""
    from yingyan.sim.families import parse_drawn

    drawn = parse_drawn(name_or_path)
    if drawn is not None:
        from yingyan.sim.families import generate

        return generate(*drawn)
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.exists():
            raise ConfigError(f"{path}: no such scenario file")
        return load_model(Scenario, path)
    return load_builtin(name_or_path)
