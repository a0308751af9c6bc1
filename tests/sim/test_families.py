"""Scenario families: a seed draws the same valid scenario every time, within the documented ranges,
with its incident where the family says; the seeds are split into tuning and report seeds."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from yingyan.cli import app
from yingyan.config import validate_mapping
from yingyan.sim.families import FAMILIES, FamilyName, _place_of, generate, parse_drawn, split
from yingyan.sim.library import resolve_scenario
from yingyan.sim.runner import RunOptions, run_scenario
from yingyan.sim.scenario import Scenario


@settings(max_examples=150, deadline=None)
@given(family=st.sampled_from(list(FamilyName)), seed=st.integers(0, 10**6))
def test_a_seed_draws_one_valid_scenario_within_the_familys_ranges(family: FamilyName, seed: int) -> None:
    scenario = generate(family, seed)
    assert generate(family, seed) == scenario  # the same seed, the same scenario
    ranges = FAMILIES[family]
    network = scenario.network
    assert network.road_class is ranges.road_class and ranges.lanes[0] <= network.lanes <= ranges.lanes[1]
    assert network.speed_limit_kmh in ranges.speed_limits_kmh
    assert ranges.cameras[0] <= len(scenario.checkpoints) <= ranges.cameras[1]
    positions = [cp.position_m for cp in scenario.checkpoints]
    gaps = [b - a for a, b in itertools.pairwise(positions)]
    assert all(ranges.spacing_m[0] - 5 <= g <= ranges.spacing_m[1] + 5 for g in gaps)
    sizes = {size for size, _ in ranges.resolutions}
    assert all(cp.resolution in sizes and ranges.height_m[0] <= cp.height_m <= ranges.height_m[1]
               for cp in scenario.checkpoints)  # fmt: skip
    assert (network.lane_drop is not None) == (ranges.lane_drop and network.lanes > 1)
    if ranges.incidents:
        (incident,) = scenario.incidents
        assert incident.type in {t for t, _ in ranges.incidents}
        assert _place_of(incident, scenario) in {p for p, _ in ranges.places}
        # Far enough from the road's start for a vehicle at the limit to be stopped there: SUMO's vehicles
        # enter at the start, and a stall placed nearer never happens.
        limit = network.speed_limit_kmh / 3.6
        assert incident.position_m >= limit * limit / 6.0 + 10.0
    else:
        assert scenario.incidents == []
    assert scenario.name == f"{family.value}-s{seed}" and parse_drawn(scenario.name) == (family, seed)
    assert split(seed) in scenario.description


def test_the_seeds_are_split_into_tuning_and_report_seeds() -> None:
    assert [split(s) for s in (1, 499, 500, 999, 1000)] == ["tuning", "tuning", "report", "report", "other"]


def test_each_family_places_its_incidents_in_view_past_the_view_and_between_cameras() -> None:
    for family, ranges in FAMILIES.items():
        if not ranges.incidents:
            continue
        drawn = {_place_of(generate(family, seed).incidents[0], generate(family, seed)) for seed in range(1, 60)}
        assert drawn == {p for p, _ in ranges.places}, family


def test_sim_generate_writes_the_scenario_a_name_also_resolves_to(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["sim", "generate", "expressway-incidents", "--seed", "512", "--out",
                                 str(tmp_path / "x.yaml")])  # fmt: skip
    assert result.exit_code == 0, result.output
    written = validate_mapping(Scenario, yaml.safe_load((tmp_path / "x.yaml").read_text(encoding="utf-8")), "x")
    assert written == generate(FamilyName.EXPRESSWAY_INCIDENTS, 512) == resolve_scenario("expressway-incidents-s512")
    assert "report" in result.output
    unknown = runner.invoke(app, ["sim", "generate", "motorway-chaos", "--seed", "1", "--out", str(tmp_path / "y")])
    assert unknown.exit_code == 2 and "unknown family 'motorway-chaos'" in unknown.output
    listed = runner.invoke(app, ["sim", "list"])
    assert all(f.value in listed.output for f in FamilyName) and "report seeds 500-999" in listed.output


def test_drawn_roads_with_a_junction_and_a_lane_drop_simulate(tmp_path: Path) -> None:
    junction = next(s for s in (generate(FamilyName.ARTERIAL_INCIDENTS, k) for k in range(1, 50))
                    if s.network.cross_street is not None)  # fmt: skip
    peak = generate(FamilyName.RECURRENT_PEAKS, 3)
    assert peak.network.lane_drop is not None
    for scenario in (junction, peak):
        seconds = max((i.start_s + 30.0 for i in scenario.incidents), default=60.0)  # past the incident's start
        run = run_scenario(scenario, tmp_path / scenario.name, RunOptions(seed=1, duration_s=seconds, render=False))
        assert (run / "manifest.json").exists() and (run / "site.yaml").exists()


def test_an_incident_drawn_in_the_first_cameras_view_on_an_expressway_takes_place(tmp_path: Path) -> None:
    """expressway-incidents s63 once drew its stall at 80 m, nearer the road's start than a car at 100 km/h
    can brake from: the simulation ran without an incident. Its stall now happens, where a camera sees it."""
    scenario = generate(FamilyName.EXPRESSWAY_INCIDENTS, 63)
    (incident,) = scenario.incidents
    options = RunOptions(seed=63, duration_s=incident.start_s + 90.0, render=False)
    run = run_scenario(scenario, tmp_path / "run", options)
    (happened,) = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["incidents"]
    assert happened["start_s"] is not None and happened["camera_ids"]
