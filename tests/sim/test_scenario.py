"""Scenario files: the library validates, and bad files fail naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from yingyan.errors import ConfigError
from yingyan.sim.library import builtin_names, load_builtin, resolve_scenario
from yingyan.sim.scenario import IncidentType, load_scenario

REQUIRED = {
    "corridor-stall",
    "corridor-peak",
    "crash-junction",
    "kerb-illegal-parking",
    "lane-closure",
    "night-stall",
    "free-flow",
}


def test_library_has_the_required_scenarios_and_they_validate() -> None:
    names = set(builtin_names())
    assert REQUIRED <= names
    for name in names:
        scenario = load_builtin(name)
        assert scenario.name == name and scenario.description
    assert load_builtin("corridor-peak").incidents == []
    assert load_builtin("free-flow").incidents == []
    types = {inc.type for name in names for inc in load_builtin(name).incidents}
    assert types == set(IncidentType)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _base() -> dict[str, object]:
    return load_builtin("corridor-stall").model_dump(mode="json")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["incidents"][0].update(lane=7), "incidents.0.lane"),
        (lambda d: d["incidents"][0].update(type="meteor"), "incidents.0.type"),
        (lambda d: d["checkpoints"][1].update(colour="red"), "checkpoints.1.colour"),
        (lambda d: d["network"].update(lanes="two"), "network.lanes"),
        (lambda d: d.update(duration_s=-5), "duration_s"),
        (lambda d: d["conditions"].update(lighting="noon"), "conditions.lighting"),
        (lambda d: d["checkpoints"][0].update(position_m=99999), "checkpoints.0.position_m"),
        (lambda d: d["demand"]["forward"][0].pop("veh_per_hour"), "demand.forward.0.veh_per_hour"),
        (lambda d: d["checkpoints"][3].update(resolution=[641, 360]), "checkpoints.3.resolution"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, edit: object, field: str) -> None:
    data = _base()
    edit(data)  # type: ignore[operator]
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert field in str(info.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such scenario file"):
        resolve_scenario(str(tmp_path / "missing.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ncheckpoints: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML at line \d+"):
        load_scenario(broken)
    with pytest.raises(ConfigError, match=r"unknown scenario 'nope'.*corridor-stall"):
        resolve_scenario("nope")


@settings(max_examples=40, deadline=None)
@given(
    field=st.sampled_from(["height_m", "pitch_deg", "focal_length_mm", "fps", "view_m"]),
    value=st.floats(-1e4, 0.5) | st.floats(500, 1e6),
)
def test_out_of_range_camera_values_are_rejected_by_name(
    tmp_path_factory: pytest.TempPathFactory, field: str, value: float
) -> None:
    data = _base()
    data["checkpoints"][2][field] = value  # type: ignore[index]
    path = _write(tmp_path_factory.mktemp("h"), data)
    with pytest.raises(ConfigError, match=rf"checkpoints\.2\.{field}"):
        load_scenario(path)
