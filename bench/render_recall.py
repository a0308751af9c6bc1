"""Does the simulator look to a detector as real video does? The shipped YOLOX-nano on both.

Run: .venv/bin/python bench/render_recall.py [--families F ...] [--seeds 500-501] [--seconds 40] [--out DIR]
     .venv/bin/python bench/render_recall.py --speed          # rendering speed at 640x360, 1280x720, 1920x1080
     .venv/bin/python bench/render_recall.py --bitrate        # what a camera's bitrate cap saves (tuning seed 3)

Simulated side: each family scenario (report seeds by default, incidents left out) is simulated,
every camera's frames are rendered at 5 fps for ``--seconds`` after a warm-up, written to H.264
at the scenario's quality as a run writes them, decoded, and run through the shipped detector
at its operating confidence (0.2). Its boxes are scored against the renderer's boxes of the
vehicles inside each camera's measured stretch (``yingyan.eval.boxes``: ≥ 40 px tall, not cut
by the frame, at most half hidden; found at IoU ≥ 0.5). Real side: the hand-checked frames of
``bench/data/real_frames.yaml`` scored the same way.

Recall is given by the box's height in the frame (the goal's measure) and by its height in the
detector's input (what the detector sees: a 1280 px frame is shrunk to 416 px, a 640 px one
to 416 px): the fair comparison of a 720p simulated camera with a 640x360 real clip is the
second. Prints one table per lighting and writes ``side_by_side.png`` and sample frames to --out.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import yaml
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from yingyan.eval.boxes import Tally, TruthBox, score_frame
from yingyan.perception.backends import SHIPPED_MODEL
from yingyan.perception.classes import BUS, CAR, MOTORCYCLE, TRUCK
from yingyan.perception.onnx import OnnxDetector
from yingyan.perception.region import RegionDetector, far_region, lanes_region
from yingyan.sim.camera import camera_for, measurement_zone
from yingyan.sim.families import FamilyName, generate
from yingyan.sim.network import build_network
from yingyan.sim.outputs import calibration_for
from yingyan.sim.render import CameraRenderer
from yingyan.sim.runner import VIDEO_PRESET, RunOptions, apply_overrides, sim_step_for
from yingyan.sim.scenario import Lighting, Scenario, Weather
from yingyan.sim.traffic import Trajectories, simulate
from yingyan.video import VideoWriter

HERE = Path(__file__).parent
REAL_FRAMES = HERE / "data" / "real_frames.yaml"
VIDEOS = HERE.parent.parent / "shared" / "videos"
VEHICLES = (CAR, MOTORCYCLE, BUS, TRUCK)
FPS = 5.0
WARMUP_S = 20.0
console = Console()


def image_band(h: float) -> str:
    return "px 40-80" if h < 80 else ("px 80-160" if h < 160 else "px 160+")


def input_band(h: float) -> str:
    return "in <20" if h < 20 else ("in 20-30" if h < 30 else ("in 30-50" if h < 50 else "in 50+"))


def groups(box: TruthBox, scale: float) -> list[str]:
    return [image_band(box.height), input_band(box.height * scale), box.cls]


def detector() -> OnnxDetector:
    return OnnxDetector(SHIPPED_MODEL, threads=1, classes=VEHICLES)


def lighting_of(scenario: Scenario) -> str:
    c = scenario.conditions
    return c.lighting.value + (" rain" if c.weather is Weather.RAIN else "")


def prepared(family: str, seed: int, seconds: float) -> Scenario:
    scenario = generate(FamilyName(family), seed).model_copy(update={"incidents": []})
    return apply_overrides(scenario, RunOptions(duration_s=WARMUP_S + seconds, fps=FPS))


def score_scene(job: tuple[str, int, float, str | None]) -> tuple[str, str, Tally, Tally, float, int]:
    """Simulate, render, encode, decode and detect one scenario; returns its lighting and tallies: the
    detector on the whole frame (the renderer's measure, as on the real frames) and as the product runs
    it on a calibrated camera (the lanes' region, the far lanes looked at again, larger)."""
    family, seed, seconds, sample_dir = job
    cv2.setNumThreads(1)
    scenario = prepared(family, seed, seconds)
    work = Path(tempfile.mkdtemp(prefix="render-recall-"))
    built = build_network(scenario, work / "sumo")
    traj = simulate(scenario, built, seed, sim_step_for(scenario), None)
    det = detector()
    tally, product = Tally(), Tally()
    render_s, frames = 0.0, 0
    first = int(WARMUP_S * FPS)
    n_frames = int(seconds * FPS)
    for index, cp in enumerate(scenario.checkpoints):
        camera = camera_for(cp, scenario.network)
        zone = measurement_zone(cp, camera, scenario.network)
        renderer = CameraRenderer(scenario, camera, traj, seed * 1009 + index)
        truth: list[list[TruthBox]] = []
        video = work / f"{cp.id}.mp4"
        with VideoWriter(
            video, camera.width, camera.height, FPS, crf=scenario.conditions.crf, preset=VIDEO_PRESET
        ) as writer:
            for k in range(first, first + n_frames):
                step = traj.step_index(k / FPS)
                t0 = time.perf_counter()
                frame, boxes = renderer.render(step)
                render_s += time.perf_counter() - t0
                frames += 1
                writer.write(frame)
                rows = traj.rows(step)
                where = dict(zip(traj.vid[rows].tolist(), traj.x[rows].tolist(), strict=True))
                truth.append(
                    [
                        TruthBox(
                            f"{cp.id}/{b.vehicle}",
                            b.cls,
                            b.x1,
                            b.y1,
                            b.x2,
                            b.y2,
                            b.depth_m,
                            b.truncated,
                            counted=zone.lo_m <= where.get(b.vehicle, -1e9) <= zone.hi_m,
                        )
                        for b in boxes
                    ]
                )
        capture = cv2.VideoCapture(str(video))
        scale = det.scale_for((camera.height, camera.width))
        calibration = calibration_for(scenario, cp, camera, zone)
        as_run = RegionDetector(det, lanes_region(calibration), far_region(calibration, det))
        for k in range(n_frames):
            ok, image = capture.read()
            if not ok:
                raise RuntimeError(f"{video}: frame {k} did not decode")
            found = det.update(image)
            score = score_frame(truth[k], found.xyxy)
            tally.add(score, [groups(b, scale) for b in score.counted])
            run_score = score_frame(truth[k], as_run.update(image).xyxy)
            product.add(run_score, [groups(b, scale) for b in run_score.counted])
            if sample_dir and k == n_frames // 2:
                _sample(Path(sample_dir) / f"{scenario.name}-{cp.id}.png", image, truth[k], found.xyxy)
        capture.release()
    return f"{family}-s{seed}", lighting_of(scenario), tally, product, render_s, frames


def _sample(path: Path, image: np.ndarray, truth: list[TruthBox], found: np.ndarray) -> None:
    out = image.copy()
    for b in truth:
        if b.counted and b.height >= 40:
            cv2.rectangle(out, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), (0, 220, 0), 1)
    for d in found:
        cv2.rectangle(out, (int(d[0]), int(d[1])), (int(d[2]), int(d[3])), (0, 0, 255), 2)
    cv2.imwrite(str(path), out)


def score_real() -> dict[str, Tally]:
    """The hand-checked real frames, per lighting."""
    labels = yaml.safe_load(REAL_FRAMES.read_text(encoding="utf-8"))
    det = detector()
    out: dict[str, Tally] = defaultdict(Tally)
    for clip, entry in labels.items():
        capture = cv2.VideoCapture(str(VIDEOS / clip))
        for k, boxes in entry["frames"].items():
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(k))
            ok, image = capture.read()
            if not ok:
                raise RuntimeError(f"{clip}: frame {k} did not decode")
            truth = [
                TruthBox(f"{clip}/{k}/{i}", "vehicle", float(b[0]), float(b[1]), float(b[2]), float(b[3]))
                for i, b in enumerate(boxes)
            ]
            score = score_frame(truth, det.update(image).xyxy)
            score.detections = score.false = 0  # the labels list only counted vehicles: no precision from them
            scale = det.scale_for(image.shape)
            out[entry["lighting"]].add(score, [groups(b, scale)[:2] for b in score.counted])
        capture.release()
    return out


GROUPS = (
    "px 40-80",
    "px 80-160",
    "px 160+",
    "in <20",
    "in 20-30",
    "in 30-50",
    "in 50+",
    "car",
    "bus",
    "truck",
    "motorcycle",
)


def _pct(found: int, n: int) -> str:
    return f"{100 * found / n:.0f}% ({found}/{n})" if n else "–"


def report(sim: dict[str, Tally], real: dict[str, Tally], as_run: dict[str, Tally]) -> None:
    for light in sorted(set(sim) | set(real)):
        table = Table(title=f"{light}: recall of vehicles ≥ 40 px tall (YOLOX-nano 416, confidence 0.2)")
        table.add_column("group")
        table.add_column("simulator, whole frame", justify="right")
        table.add_column("real (hand-checked), whole frame", justify="right")
        table.add_column("simulator, as run (lanes + far pass)", justify="right")
        s, r, p = sim.get(light, Tally()), real.get(light, Tally()), as_run.get(light, Tally())
        for g in ("all", *GROUPS):
            if s.counted[g] or r.counted[g]:
                table.add_row(g, _pct(s.found[g], s.counted[g]), _pct(r.found[g], r.counted[g]),
                              _pct(p.found[g], p.counted[g]))  # fmt: skip
        table.add_row("precision", *(f"{100 * v:.1f}%" if v is not None else "–"
                                     for v in (s.precision(), r.precision(), p.precision())))  # fmt: skip
        table.add_row("vehicles found in ≥ 3 frames", _pct(*s.found_in(3)), "–", _pct(*p.found_in(3)))
        console.print(table)


def side_by_side(out: Path, seed: int) -> None:
    """A real frame beside a rendered one of the same size, by day and at dusk."""
    pairs = [
        ("motorway_bridge.mp4", 251, "expressway-incidents", "day"),
        ("urban_multilane_dusk.mp4", 360, "arterial-incidents", "dusk"),
    ]
    rows = []
    for clip, k, family, light in pairs:
        capture = cv2.VideoCapture(str(VIDEOS / clip))
        capture.set(cv2.CAP_PROP_POS_FRAMES, k)
        ok, real = capture.read()
        capture.release()
        if not ok:
            continue
        h, w = real.shape[:2]
        scenario = generate(FamilyName(family), seed).model_copy(update={"incidents": []})
        data = scenario.conditions.model_copy(update={"lighting": Lighting(light), "weather": Weather.CLEAR})
        scenario = apply_overrides(
            scenario.model_copy(update={"conditions": data}), RunOptions(duration_s=60, fps=FPS, size=(w, h))
        )
        work = Path(tempfile.mkdtemp(prefix="render-pair-"))
        traj = simulate(scenario, build_network(scenario, work / "sumo"), seed, sim_step_for(scenario), None)
        camera = camera_for(scenario.checkpoints[0], scenario.network)
        frame, _ = CameraRenderer(scenario, camera, traj, seed).render(traj.step_index(45.0))
        rows.append(np.hstack([real, frame]))
    if rows:
        width = max(r.shape[1] for r in rows)
        rows = [cv2.resize(r, (width, int(r.shape[0] * width / r.shape[1]))) for r in rows]
        cv2.imwrite(str(out / "side_by_side.png"), np.vstack(rows))


def _busy_run(seed: int, light: str) -> tuple[Scenario, Trajectories, Path]:
    """expressway-incidents ``seed`` without its incident, in ``light``, simulated for 60 s at 5 fps: its
    trajectories and a scratch folder."""
    base = generate(FamilyName.EXPRESSWAY_INCIDENTS, seed).model_copy(update={"incidents": []})
    base = base.model_copy(update={"conditions": base.conditions.model_copy(update={"lighting": Lighting(light)})})
    scenario = apply_overrides(base, RunOptions(duration_s=60, fps=FPS))
    work = Path(tempfile.mkdtemp(prefix="render-bench-"))
    traj = simulate(scenario, build_network(scenario, work / "sumo"), seed, sim_step_for(scenario), None)
    return scenario, traj, work


def speed(seed: int) -> None:
    """Render-only and render + H.264 frame rates of one busy camera on one core, at three sizes."""
    cv2.setNumThreads(1)
    title = f"rendering on one core (expressway-incidents, busiest camera, 150 frames; x264 {VIDEO_PRESET})"
    table = Table(title=title)
    for col in ("size", "lighting", "render fps", "render + H.264 fps", "× real time at 5 fps"):
        table.add_column(col, justify="right")
    for light in ("day", "night"):
        scenario, traj, work = _busy_run(seed, light)
        for size in ((640, 360), (1280, 720), (1920, 1080)):
            camera = camera_for(scenario.checkpoints[0], scenario.network, size)
            renderer = CameraRenderer(scenario, camera, traj, seed)
            steps = [traj.step_index(WARMUP_S + k / FPS) for k in range(150)]
            t0 = time.perf_counter()
            for step in steps:
                renderer.render(step)
            render_fps = len(steps) / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            with VideoWriter(
                work / f"{size[0]}.mp4", size[0], size[1], FPS, crf=scenario.conditions.crf, preset=VIDEO_PRESET
            ) as writer:
                for step in steps:
                    writer.write(renderer.render(step)[0])
            both = len(steps) / (time.perf_counter() - t0)
            table.add_row(f"{size[0]}x{size[1]}", light, f"{render_fps:.0f}", f"{both:.0f}", f"{both / FPS:.1f}×")
    console.print(table)


def bitrate(seed: int) -> None:
    """H.264 encode and decode time and bits per pixel of one 1280x720 camera with no bitrate cap and with
    caps of 0.2 and 0.1 bits per pixel per frame (real checkpoint streams spend 0.05-0.1), on one core."""
    import av

    cv2.setNumThreads(1)
    title = f"expressway-incidents seed {seed}, K1 at 1280x720, 100 frames at {FPS:g} fps, x264 {VIDEO_PRESET}"
    table = Table(title=title)
    heads = ("lighting", "drawing ms/frame", "cap (bits/pixel/frame)", "spent", "encode ms/frame", "decode ms/frame")
    for col in heads:
        table.add_column(col, justify="right")
    for light in ("day", "night"):
        scenario, traj, work = _busy_run(seed, light)
        width, height = 1280, 720
        renderer = CameraRenderer(scenario, camera_for(scenario.checkpoints[0], scenario.network, (width, height)),
                                  traj, seed)  # fmt: skip
        steps = [traj.step_index(WARMUP_S + k / FPS) for k in range(100)]
        began = time.process_time()
        frames = [renderer.render(step)[0] for step in steps]
        drawing = (time.process_time() - began) / len(frames) * 1000
        for cap in (None, 0.2, 0.1):
            path = work / f"{cap}.mp4"
            kbps = None if cap is None else round(cap * width * height * FPS / 1000)
            began = time.process_time()
            with VideoWriter(path, width, height, FPS, crf=scenario.conditions.crf, preset=VIDEO_PRESET,
                             maxrate_kbps=kbps) as writer:  # fmt: skip
                for frame in frames:
                    writer.write(frame)
            encode = (time.process_time() - began) / len(frames) * 1000
            began = time.process_time()
            with av.open(str(path)) as container:
                decoded = sum(1 for _ in container.decode(video=0))
            decode = (time.process_time() - began) / max(decoded, 1) * 1000
            spent = path.stat().st_size * 8 / (width * height * len(frames))
            table.add_row(light, f"{drawing:.1f}", "none" if cap is None else f"{cap}", f"{spent:.3f}",
                          f"{encode:.1f}", f"{decode:.1f}")  # fmt: skip
    console.print(table)


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=[f.value for f in FamilyName])
    parser.add_argument("--seeds", default="500-501", help="family seeds, e.g. 500-503 (report seeds: 500-999)")
    parser.add_argument(
        "--seconds", type=float, default=40.0, help="seconds of each camera scored, after 20 s of warm-up"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/render-recall"))
    parser.add_argument("--speed", action="store_true", help="measure rendering speed instead")
    parser.add_argument("--bitrate", action="store_true", help="measure what a bitrate cap saves instead")
    args = parser.parse_args()
    if args.speed:
        speed(500)
        return
    if args.bitrate:
        bitrate(3)  # a tuning seed
        return
    missing = [c for c in yaml.safe_load(REAL_FRAMES.read_text(encoding="utf-8")) if not (VIDEOS / c).is_file()]
    if missing:  # before the long part: the real side is scored last
        parser.error(f"the real clips {', '.join(missing)} are not in {VIDEOS} (the shared data beside the checkout)")
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(f, s, args.seconds, str(args.out)) for f in args.families for s in _seeds(args.seeds)]
    sim: dict[str, Tally] = defaultdict(Tally)
    as_run: dict[str, Tally] = defaultdict(Tally)
    render_s, frames = 0.0, 0
    ctx = multiprocessing.get_context("spawn")  # one libsumo simulation per process
    with (
        Progress(console=console) as progress,
        ProcessPoolExecutor(args.workers, mp_context=ctx, max_tasks_per_child=1) as pool,
    ):
        task = progress.add_task("scenes", total=len(jobs))
        for name, light, tally, product, seconds, n in pool.map(score_scene, jobs):
            progress.advance(task)
            console.log(
                f"{name} ({light}): recall {tally.recall() or 0:.0%} of {tally.counted['all']} "
                f"(as run, with the far pass: {product.recall() or 0:.0%})"
            )
            sim[light].merge(tally)
            as_run[light].merge(product)
            render_s, frames = render_s + seconds, frames + n
    report(sim, score_real(), as_run)
    console.print(f"rendering: {frames} frames, {frames / max(render_s, 1e-9):.0f} fps on average over all sizes")
    side_by_side(args.out, 500)
    console.print(f"frames with boxes (green: truth, red: detections) and side_by_side.png in {args.out}")


if __name__ == "__main__":
    main()
