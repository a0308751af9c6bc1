"""Named evaluation sets: the report set is issue 17's whole evaluation, on report seeds only."""

from __future__ import annotations

import pytest

from yingyan.errors import ConfigError
from yingyan.eval.sets import scenarios_of
from yingyan.sim.families import REPORT_SEEDS, TUNING_SEEDS, FamilyName, generate, parse_drawn


def _drawn(set_name: str) -> list[tuple[FamilyName, int]]:
    out = []
    for name in scenarios_of(set_name):
        drawn = parse_drawn(name)
        assert drawn is not None, name
        out.append(drawn)
    return out


def test_the_report_set_holds_forty_incidents_and_four_camera_hours_of_quiet_roads_on_report_seeds_only() -> None:
    drawn = _drawn("report")
    assert all(seed in REPORT_SEEDS for _, seed in drawn)
    scenarios = [generate(family, seed) for family, seed in drawn]
    assert sum(len(s.incidents) for s in scenarios) >= 40
    quiet = [s for s in scenarios if not s.incidents]
    assert sum(len(s.checkpoints) * s.duration_s for s in quiet) / 3600.0 >= 4.0
    assert len(set(drawn)) == len(drawn)


def test_the_tuning_set_has_the_same_shape_on_tuning_seeds() -> None:
    drawn = _drawn("tuning")
    assert all(seed in TUNING_SEEDS for _, seed in drawn)
    assert len(drawn) == len(_drawn("report"))


def test_a_set_takes_the_families_in_turn_so_a_partial_run_covers_them_all() -> None:
    first = [family for family, _ in _drawn("report")[: len(FamilyName)]]
    assert sorted(first) == sorted(FamilyName)


def test_an_unknown_set_is_named_with_the_sets_there_are() -> None:
    with pytest.raises(ConfigError, match=r"'nightly'.*report, tuning, smoke"):
        scenarios_of("nightly")
