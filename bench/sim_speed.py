"""Simulator speed: SUMO stepping, and rendering per camera on one core.

Run: .venv/bin/python bench/sim_speed.py [--frames N]
Prints a table; the figures go into bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
from rich.console import Console
from rich.table import Table

from yingyan.sim.camera import camera_for
from yingyan.sim.library import load_builtin
from yingyan.sim.network import build_network
from yingyan.sim.render import CameraRenderer
from yingyan.sim.scenario import Conditions
from yingyan.sim.traffic import simulate
from yingyan.video import VideoWriter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=600, help="frames rendered per measurement")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    console = Console()
    scenario = load_builtin("corridor-stall")
    with tempfile.TemporaryDirectory() as tmp:
        net = build_network(scenario, Path(tmp))
        sim_rows = []
        for step in (0.1, 0.04):
            t0 = time.perf_counter()
            traj = simulate(scenario, net, seed=1, step_s=step)
            wall = time.perf_counter() - t0
            simulated = scenario.warmup_s + scenario.duration_s
            steps = simulated / step
            per_step = len(traj.vid) / max(len(traj.times), 1)
            sim_rows.append((step, wall, steps / wall, simulated / wall, per_step))
        traj = simulate(scenario, net, seed=1, step_s=0.1)
        table = Table(
            title=f"SUMO (libsumo) on {scenario.name}: {scenario.warmup_s + scenario.duration_s:.0f} s simulated"
        )
        for col in ("step s", "wall s", "steps/s", "x real time", "vehicles/step"):
            table.add_column(col, justify="right")
        for step, wall, sps, rt, veh in sim_rows:
            table.add_row(f"{step}", f"{wall:.1f}", f"{sps:.0f}", f"{rt:.0f}", f"{veh:.0f}")
        console.print(table)

        table = Table(title=f"Rendering one camera on one core ({args.frames} frames, congested camera K3, 300-360 s)")
        for col in ("size", "conditions", "render fps", "render+H.264 fps", "x real time at 10 fps"):
            table.add_column(col, justify="right")
        start = traj.step_index(300.0)
        for size in ((640, 360), (1280, 720)):
            for lighting in ("day", "night"):
                conditions = Conditions.model_validate({**scenario.conditions.model_dump(), "lighting": lighting})
                variant = scenario.model_copy(update={"conditions": conditions})
                cp = variant.checkpoints[2]
                renderer = CameraRenderer(variant, camera_for(cp, variant.network, size), traj, seed=1)
                steps = [start + k % 600 for k in range(args.frames)]
                t0 = time.perf_counter()
                for k in steps:
                    renderer.render(k)
                render_fps = args.frames / (time.perf_counter() - t0)
                with VideoWriter(
                    Path(tmp) / f"b{size[0]}.mp4", size[0], size[1], fps=10, crf=variant.conditions.crf
                ) as writer:
                    t0 = time.perf_counter()
                    for k in steps:
                        frame, _ = renderer.render(k)
                        writer.write(frame)
                    both_fps = args.frames / (time.perf_counter() - t0)
                table.add_row(
                    f"{size[0]}x{size[1]}", lighting, f"{render_fps:.0f}", f"{both_fps:.0f}", f"{both_fps / 10:.1f}"
                )
        console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
