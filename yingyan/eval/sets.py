"""Named evaluation sets: the family seeds a published figure is made of (``yingyan eval --set NAME``).

``report`` is issue 17's whole evaluation: 40 incidents (20 on arterials, 14 on expressways, 6
parked at the kerb) and about 5 camera-hours of recurrent peaks and quiet roads in bad
conditions, all on *report* seeds (500–999), run only for figures. ``tuning`` is the same shape
on tuning seeds (1–499), for looking at and tuning on; ``smoke`` is a few tuning scenarios, for a
quick look that a change did not break the pipeline.
"""

from __future__ import annotations

import itertools

from yingyan.errors import ConfigError
from yingyan.sim.families import FamilyName

EvalSet = dict[FamilyName, range]

SETS: dict[str, EvalSet] = {
    "report": {
        FamilyName.ARTERIAL_INCIDENTS: range(500, 520),
        FamilyName.EXPRESSWAY_INCIDENTS: range(500, 514),
        FamilyName.KERB_PARKING: range(500, 506),
        FamilyName.RECURRENT_PEAKS: range(500, 502),
        FamilyName.QUIET_BAD_CONDITIONS: range(500, 503),
    },
    "tuning": {
        FamilyName.ARTERIAL_INCIDENTS: range(1, 21),
        FamilyName.EXPRESSWAY_INCIDENTS: range(1, 15),
        FamilyName.KERB_PARKING: range(1, 7),
        FamilyName.RECURRENT_PEAKS: range(1, 3),
        FamilyName.QUIET_BAD_CONDITIONS: range(1, 4),
    },
    "smoke": {
        FamilyName.ARTERIAL_INCIDENTS: range(1, 3),
        FamilyName.EXPRESSWAY_INCIDENTS: range(1, 2),
        FamilyName.QUIET_BAD_CONDITIONS: range(1, 2),
    },
}


def scenarios_of(name: str) -> list[str]:
    """The scenarios of a named set, as ``FAMILY-sN`` names, the families taken in turn (an evaluation
    stopped part way, or read while it runs, has some of every family)."""
    if name not in SETS:
        raise ConfigError(f"--set {name!r}: no such evaluation set; sets: {', '.join(SETS)}")
    by_family = [[f"{family.value}-s{seed}" for seed in seeds] for family, seeds in SETS[name].items()]
    turns = itertools.zip_longest(*by_family)
    return [scenario for turn in turns for scenario in turn if scenario is not None]
