"""CPU time by stage: the evaluation's cost report rests on it."""

from __future__ import annotations

import subprocess
import sys
import time

from yingyan.cost import StageClock


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_stage_counts_the_cpu_it_used_and_a_repeated_stage_adds_up() -> None:
    clock = StageClock()
    with clock.stage("busy"):
        _spin(0.2)
    with clock.stage("idle"):
        time.sleep(0.2)
    with clock.stage("busy"):
        _spin(0.1)
    assert 0.28 <= clock.cpu_s["busy"] <= 0.6
    assert clock.cpu_s["idle"] < 0.05 and clock.wall_s["idle"] >= 0.19
    assert set(clock.as_dict()["cpu_s"]) == {"busy", "idle"}


def test_a_child_process_counts_once_it_has_ended() -> None:
    clock = StageClock()
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    with clock.stage("child"):
        subprocess.run([sys.executable, "-c", spin], check=True)
    assert clock.cpu_s["child"] >= 0.3
