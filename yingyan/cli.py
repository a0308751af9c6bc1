"""The ``yingyan`` command line."""

from __future__ import annotations

import json
import logging
import re
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from yingyan.calibration import CameraCalibration
from yingyan.config import load_model
from yingyan.errors import YingyanError
from yingyan.perception.backends import DetectorName
from yingyan.sim.library import DEFAULT_SCENARIO, builtin_names, load_builtin, resolve_scenario
from yingyan.sim.runner import RunOptions, run_scenario
from yingyan.sim.scenario import Scenario
from yingyan.site import Site

if TYPE_CHECKING:
    from datetime import datetime

    from yingyan.incidents import EventRules
    from yingyan.incidents.engine import Incident

app = typer.Typer(
    help="Yingyan (鹰眼): abnormal congestion, its source, and the incident loop over checkpoint cameras.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Configuration formats.", no_args_is_help=True)
sim_app = typer.Typer(
    help="The scenario simulator: SUMO traffic, rendered camera video, exact ground truth.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(sim_app, name="sim")
baseline_app = typer.Typer(
    help="Usual traffic per lane by time of day: the yardstick of abnormal.", no_args_is_help=True
)
app.add_typer(baseline_app, name="baseline")
user_app = typer.Typer(
    help="Users of the incident service: dispatchers, officers, liaisons, viewers.", no_args_is_help=True
)
app.add_typer(user_app, name="user")

err = Console(stderr=True)
out = Console()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line (for servers).")] = False,
) -> None:
    """Yingyan command line."""
    handler: logging.Handler
    if log_json:
        from yingyan.service.logs import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
    else:
        handler = RichHandler(console=err, show_path=False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", handlers=[handler])
    for noisy in ("uvicorn.access", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class SchemaName(StrEnum):
    """Configuration formats with a JSON schema."""

    ALL = "all"
    SCENARIO = "scenario"
    SITE = "site"
    CALIBRATION = "calibration"


@config_app.command("schema")
def config_schema(
    which: Annotated[
        SchemaName, typer.Argument(help="Which format: scenario, site, calibration, or all.")
    ] = SchemaName.ALL,
) -> None:
    """Print the JSON schema of the configuration formats."""
    schemas = {
        "scenario": Scenario.model_json_schema(),
        "site": Site.model_json_schema(),
        "calibration": CameraCalibration.model_json_schema(),
    }
    data = schemas if which is SchemaName.ALL else schemas[which.value]
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@sim_app.command("list")
def sim_list() -> None:
    """Name the built-in scenarios, one line each, then the scenario families."""
    from yingyan.sim.families import FAMILIES, REPORT_SEEDS, TUNING_SEEDS

    names = builtin_names()
    width = max(len(n) for n in [*names, *FAMILIES])
    for name in names:
        typer.echo(f"{name:<{width}}  {load_builtin(name).description}")
    typer.echo(f"\nscenario families (`yingyan sim generate FAMILY --seed N`, or FAMILY-sN wherever a scenario is "
               f"named); tuning seeds {TUNING_SEEDS.start}-{TUNING_SEEDS.stop - 1}, report seeds "
               f"{REPORT_SEEDS.start}-{REPORT_SEEDS.stop - 1}:")  # fmt: skip
    for family, ranges in FAMILIES.items():
        typer.echo(f"{family.value:<{width}}  {ranges.road_class.value}, {ranges.lanes[0]}-{ranges.lanes[1]} lanes, "
                   f"{', '.join(t.value for t, _ in ranges.incidents) or 'no incident'}")  # fmt: skip


@sim_app.command("generate")
def sim_generate(
    family: Annotated[str, typer.Argument(help="Scenario family (see `yingyan sim list`).")],
    seed: Annotated[int, typer.Option(help="Which scenario of the family (tuning 1-499, report 500-999).", min=0)],
    out_file: Annotated[Path, typer.Option("--out", help="Scenario YAML to write.")],
) -> None:
    """Draw one scenario of a family by seed (always the same for the same seed) and write it as YAML."""
    import yaml

    from yingyan.sim.families import FamilyName, generate

    try:
        name = FamilyName(family)
    except ValueError:
        known = ", ".join(f.value for f in FamilyName)
        err.print(f"[bold red]error:[/] unknown family {family!r} (known: {known})", highlight=False)
        raise typer.Exit(2) from None
    scenario = generate(name, seed)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    data = scenario.model_dump(mode="json")
    out_file.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    out.print(f"{scenario.description} → [bold]{out_file}[/]")


def parse_size(text: str | None) -> tuple[int, int] | None:
    """Parse ``WxH`` (e.g. 640x360) into a (width, height) pair."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not WIDTHxHEIGHT, e.g. 640x360", param_hint="--size")
    w, h = int(match.group(1)), int(match.group(2))
    if w % 2 or h % 2:
        raise typer.BadParameter(f"{text!r}: width and height must be even for H.264", param_hint="--size")
    return w, h


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _run(scenario_ref: str, out_dir: Path, options: RunOptions) -> Path:
    scenario = resolve_scenario(scenario_ref)
    with _progress() as progress:
        return run_scenario(scenario, out_dir, options, progress)


@sim_app.command("run")
def sim_run(
    scenario: Annotated[
        str, typer.Argument(help="Built-in scenario name (see `yingyan sim list`) or a scenario YAML file.")
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write the run into (must not exist unless --force).")
    ],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives byte-identical ground truth.")] = 1,
    duration: Annotated[float | None, typer.Option(help="Override the recording length in seconds.", min=1)] = None,
    fps: Annotated[float | None, typer.Option(help="Override every camera's frame rate.", min=1, max=60)] = None,
    size: Annotated[str | None, typer.Option(help="Override every camera's resolution, WIDTHxHEIGHT.")] = None,
    render: Annotated[
        bool, typer.Option("--render/--no-render", help="Render camera videos (off: ground truth only).")
    ] = True,
    force: Annotated[
        bool, typer.Option(help="Replace --out if it exists (only once the new run is complete).")
    ] = False,
) -> None:
    """Simulate one scenario: videos per camera, calibrations, site.yaml and ground truth."""
    options = RunOptions(seed=seed, duration_s=duration, fps=fps, size=parse_size(size), render=render, force=force)
    try:
        path = _run(scenario, out_dir, options)
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(f"wrote [bold]{path}[/] (manifest.json, site.yaml, cameras/*/)")


@app.command("demo")
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder of the demo (its simulation is kept and reused).")
    ] = Path("runs/demo"),
    scenario: Annotated[str, typer.Option(help="Built-in scenario or scenario file.")] = DEFAULT_SCENARIO,
    speed: Annotated[
        float, typer.Option(help="Play the cameras at this multiple of real time.", min=0.1, max=20)
    ] = 1.0,
    duration: Annotated[float | None, typer.Option(help="Override the recording length in seconds.", min=1)] = None,
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the console and terminal.")] = 8080,
    browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the console and a terminal.")] = True,
) -> None:
    """The whole loop on the embedded default: simulate the default network with its incident, run every
    camera's pipeline on the rendered video as a live camera, the incident engine and the service (SQLite),
    and serve the console and the officer's terminal until Ctrl-C."""
    import threading
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import uvicorn

    from yingyan.service.api import create_app
    from yingyan.service.demo import add_demo_users, demo_site, simulate
    from yingyan.service.runtime import ServeOptions, ServiceRuntime

    try:
        with _progress() as progress:
            sim = simulate(out_dir, scenario, 1, duration, progress)
        runtime = ServiceRuntime(demo_site(out_dir, sim, host, port), ServeOptions(speed=speed))
        users = add_demo_users(runtime)
    except YingyanError as error:
        raise _fail(error) from None
    manifest = json.loads((sim / "manifest.json").read_text(encoding="utf-8"))
    out.print(_truth_table(manifest))
    base = f"http://{host}:{port}"
    logins = Table(title="demo logins (demo only: change them on a real site)")
    for col in ("user", "password", "role", "what"):
        logins.add_column(col)
    for u in users:
        logins.add_row(u.username, u.password, u.role.value, u.note)
    out.print(logins)
    out.print(f"console  [bold]{base}/console[/]   (log in as dispatcher)")
    out.print(
        f"terminal [bold]{base}/terminal[/]  (log in as officer; from a phone: this machine's address, --host 0.0.0.0)"
    )
    out.print(
        f"cameras play at {speed:g}× real time; the incident begins {manifest['incidents'][0]['start_s']:.0f} s in. "
        "Ctrl-C stops."
    )
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host=host, port=port, log_config=None,
                                           ws="websockets-sansio", lifespan="on"))  # fmt: skip

    def when_ready() -> None:
        import os
        import sys
        import time
        import webbrowser

        while not server.started and not server.should_exit:
            time.sleep(0.2)
        if browser and server.started and (sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY")):
            webbrowser.open(f"{base}/console")
            webbrowser.open(f"{base}/terminal")
        runtime.cameras_done.wait()
        if not server.should_exit:
            from yingyan.service.access import SYSTEM

            found = runtime.store.incidents(SYSTEM, limit=50)
            zone = ZoneInfo(runtime.site.timezone)
            table = Table(title="the cameras have played to their end: incidents in the service")
            for col in ("id", "cause", "state", "source", "cameras", "detected"):
                table.add_column(col)
            for i in found:
                when = datetime.fromisoformat(i["detected_at"]).astimezone(zone).strftime("%H:%M:%S")
                table.add_row(i["id"], i["cause"], i["state"], i["source_segment"], ", ".join(i["camera_ids"]), when)
            out.print(table)
            out.print("still serving the console and terminal; Ctrl-C stops")

    threading.Thread(target=when_ready, daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    out.print(
        f"demo stopped; its simulation stays in [bold]{sim}[/] (reused next time), its database in {out_dir}/service"
    )


def _truth_table(manifest: dict[str, object]) -> Table:
    table = Table(title=f"{manifest['scenario']}: what will happen (ground truth)")
    for col in ("incident", "type", "start s", "end s", "seen by", "congestion per camera (start–end s)"):
        table.add_column(col)
    for inc in manifest["incidents"]:  # type: ignore[attr-defined]
        spread = ", ".join(
            f"{cam} {c['start_s']:.0f}–{'…' if c['end_s'] is None else format(c['end_s'], '.0f')}"
            for cam, c in inc["congestion"].items()
        )
        table.add_row(inc["id"], inc["type"], str(inc["start_s"]), str(inc["end_s"]),
                      ", ".join(inc["camera_ids"]) or "no camera", spread or "none")  # fmt: skip
    return table


def _incident_table(title: str, incidents: list[Incident]) -> Table:
    table = Table(title=title)
    for col in ("id", "cause", "abnormal", "source", "position m", "start s", "alert s", "end s", "cameras"):
        table.add_column(col)
    for i in incidents:
        table.add_row(
            i.id, i.cause, "yes" if i.abnormal else "no (recurrent)", i.source_segment,
            "–" if i.source_position_m is None else f"{i.source_position_m:.0f}", f"{i.start_s:.1f}",
            "–" if i.alert_s is None else f"{i.alert_s:.1f}", "–" if i.end_s is None else f"{i.end_s:.1f}",
            ", ".join(i.camera_ids),
        )  # fmt: skip
    return table


@app.command("calibrate")
def calibrate_cmd(
    spec: Annotated[
        Path, typer.Argument(help="Calibration input YAML: point pairs, lanes, frame (see docs/formats.md).")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Calibration JSON to write; the overlay PNG goes beside it.")],
) -> None:
    """Fit a camera's image ↔ road homography from 4+ point pairs; write the calibration and an overlay PNG."""
    from yingyan.perception.calibrate import run_calibration

    try:
        cal, png, rms = run_calibration(spec, out_file)
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(f"wrote [bold]{cal}[/] and [bold]{png}[/] (check the grid by eye); reprojection error {rms:.2f} px RMS")


SourceArg = Annotated[str, typer.Argument(help="Video file, image folder, or stream URL (rtsp://, http://, ...).")]
CalibrationOpt = Annotated[Path, typer.Option("--calibration", help="The camera's calibration JSON.")]
DetectorOpt = Annotated[
    DetectorName, typer.Option(help="motion (no weights), onnx, or gated (onnx only where motion is).")
]
ModelOpt = Annotated[
    Path | None,
    typer.Option(help="ONNX model (YOLOX or Ultralytics export) for --detector onnx|gated; default: the shipped "
                 "YOLOX-nano (COCO, Apache-2.0)."),
]  # fmt: skip
FpsOpt = Annotated[float, typer.Option(help="Analysis rate in frames per second.", min=0.5, max=60)]
IntervalOpt = Annotated[float, typer.Option(help="Lane-state interval in seconds.", min=10)]
RenderOpt = Annotated[
    bool, typer.Option("--render/--no-render", help="Also write overlay.mp4 with boxes, ids and lanes.")
]
FastDecodeOpt = Annotated[
    bool, typer.Option("--fast-decode/--no-fast-decode", help="Skip deblocking while decoding (cheaper).")
]
MotionWidthOpt = Annotated[
    int, typer.Option(help="Width in pixels the motion detector works at (480 is cheaper, 640 more accurate).", min=160)
]


@app.command("analyze")
def analyze_cmd(
    source: SourceArg,
    calibration: CalibrationOpt,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for lane_state.csv, tracks.jsonl and overlay.mp4.")],
    detector: DetectorOpt = DetectorName.MOTION,
    model: ModelOpt = None,
    fps: FpsOpt = 5.0,
    interval: IntervalOpt = 60.0,
    render: RenderOpt = False,
    fast_decode: FastDecodeOpt = False,
    motion_width: MotionWidthOpt = 640,
) -> None:
    """Measure per-lane traffic state from one camera: lane_state.csv, tracks.jsonl, optional overlay."""
    _analyse(source, calibration, out_dir, detector, model, fps, interval, render, fast_decode, motion_width, None)


@app.command("detect")
def detect_cmd(
    source: SourceArg,
    calibration: CalibrationOpt,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for events.jsonl, evidence/ and the analysis files.")],
    rules: Annotated[
        Path | None, typer.Option(help="Event rules YAML (dwell times, queue and duration thresholds).")
    ] = None,
    detector: DetectorOpt = DetectorName.MOTION,
    model: ModelOpt = None,
    fps: FpsOpt = 5.0,
    interval: IntervalOpt = 60.0,
    render: RenderOpt = False,
    fast_decode: FastDecodeOpt = False,
    motion_width: MotionWidthOpt = 640,
    baseline: Annotated[Path | None, typer.Option(help="Baseline JSON for abnormal vs recurrent congestion.")] = None,
    start: Annotated[
        str | None, typer.Option(help="Local date and time of stream second 0 (files), e.g. 2026-11-23T17:30.")
    ] = None,
) -> None:
    """Detect events and incidents at one camera (stopped vehicle, illegal parking, crash, wrong way,
    congestion): events.jsonl and incidents.jsonl."""
    from yingyan.incidents import EventRules
    from yingyan.incidents.baseline import Baseline
    from yingyan.incidents.site_run import camera_incidents

    try:
        event_rules = load_model(EventRules, rules) if rules is not None else EventRules()
        when = _start_time(start)
        usual = Baseline.load(baseline) if baseline is not None else None
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    _analyse(
        source, calibration, out_dir, detector, model, fps, interval, render, fast_decode, motion_width, event_rules
    )
    try:
        incidents = camera_incidents(CameraCalibration.load(calibration), out_dir, usual, when)
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(_incident_table(f"incidents: {out_dir / 'incidents.jsonl'}", incidents))


def _analyse(
    source: str,
    calibration: Path,
    out_dir: Path,
    detector: DetectorName,
    model: Path | None,
    fps: float,
    interval: float,
    render: bool,
    fast_decode: bool,
    motion_width: int,
    rules: EventRules | None,
) -> None:
    """One camera end to end, with the event detectors when ``rules`` are given."""
    from yingyan.incidents import CameraEvents
    from yingyan.perception.analyze import analyze
    from yingyan.perception.backends import make_detector
    from yingyan.sources import SourceConfig

    try:
        cal = CameraCalibration.load(calibration)
        backend = make_detector(detector, model, fps, motion_width)
        events = CameraEvents(cal, rules) if rules is not None else None
        with _progress() as progress:
            task = progress.add_task(f"analysing {cal.camera_id} (stream s)", total=None)
            summary = analyze(
                SourceConfig(uri=source, fps=fps, fast_decode=fast_decode), cal, backend, out_dir,
                interval_s=interval, render=render, on_frame=lambda t: progress.update(task, completed=t),
                events=events,
            )  # fmt: skip
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(
        f"{summary.frames} frames, {summary.tracks} tracks, {summary.rows} lane-intervals written to [bold]{out_dir}[/]"
    )
    if summary.events:
        out.print(f"{summary.events} event reports in [bold]{out_dir / 'events.jsonl'}[/]")


def _start_time(start: str | None) -> datetime | None:
    from datetime import datetime

    if start is None:
        return None
    try:
        return datetime.fromisoformat(start)
    except ValueError:
        raise YingyanError(f"--start {start!r}: not a date and time (e.g. 2026-11-23T07:00)") from None


@app.command("run")
def run_cmd(
    site_file: Annotated[Path, typer.Argument(help="Site YAML: cameras, calibrations, checkpoint graph, rules.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for events.jsonl, incidents.jsonl and cameras/.")],
    detector: DetectorOpt = DetectorName.MOTION,
    model: ModelOpt = None,
    fps: FpsOpt = 5.0,
    jobs: Annotated[int, typer.Option(help="Camera pipelines run in parallel.", min=1)] = 2,
    baseline: Annotated[Path | None, typer.Option(help="Baseline JSON; default: the site file's.")] = None,
    start: Annotated[
        str | None, typer.Option(help="Local date and time of stream second 0 (files), e.g. 2026-11-23T17:30.")
    ] = None,
    reuse: Annotated[bool, typer.Option(help="Keep camera analyses already in --out.")] = False,
) -> None:
    """Run every camera of a site and the incident engine: events.jsonl and incidents.jsonl."""
    from yingyan.incidents.site_run import SiteRunOptions, run_site

    try:
        options = SiteRunOptions(
            detector=detector, model=model, fps=fps, jobs=jobs, start=_start_time(start), baseline=baseline,
            reuse=reuse,
        )  # fmt: skip
        with _progress() as progress:
            site = load_model(Site, site_file)
            task = progress.add_task("cameras analysed", total=len(site.cameras))
            result = run_site(site_file, out_dir, options, on_camera=lambda _: progress.advance(task))
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(_incident_table(f"incidents: {out_dir / 'incidents.jsonl'}", result.incidents))
    out.print(f"{len(result.events)} event reports in [bold]{out_dir / 'events.jsonl'}[/]")


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(
            help="Built-in scenario names, scenario families (each seed draws one), FAMILY-sN or "
            "scenario files (default: the library)."
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the runs, report.json and report.md.")] = Path(
        "eval-out"
    ),
    seeds: Annotated[str, typer.Option(help="Comma-separated simulation seeds.")] = "1",
    duration: Annotated[float | None, typer.Option(help="Seconds of each scenario (default: its own).")] = None,
    detector: DetectorOpt = DetectorName.MOTION,
    model: ModelOpt = None,
    fps: FpsOpt = 5.0,
    jobs: Annotated[
        int, typer.Option(help="Processes in parallel: scenarios at once when there are several, else cameras.", min=1)
    ] = 2,
    labels: Annotated[
        Path | None, typer.Option(help="Score real clips against a hand-made label file instead of scenarios.")
    ] = None,
    detectors: Annotated[
        str | None,
        typer.Option(
            help="Several detectors, comma-separated (motion,onnx,gated): each scenario rendered once and "
            "analysed by each; one report-DETECTOR.json/.md per detector."
        ),
    ] = None,
    eval_set: Annotated[
        str | None,
        typer.Option(
            "--set", help="A named set of family seeds: report (issue 17's figures), tuning, smoke; plus any scenarios."
        ),
    ] = None,
) -> None:
    """Simulate scenarios, run the whole pipeline, score incidents against ground truth: report.json, report.md."""
    from yingyan.eval.evaluate import SUMMARY, EvalOptions, ScenarioResult, evaluate_all, write_report

    try:
        if labels is not None:
            from yingyan.eval.labels import evaluate_labels

            # An explicit --detector (or --model) measures that detector on every clip; else each clip's own.
            source = ctx.get_parameter_source("detector")
            explicit = source is not None and source.name == "COMMANDLINE"
            evaluate_labels(
                labels, out_dir, say=lambda text: err.print(text, highlight=False),
                detector=detector if explicit else None, model=model,
            )  # fmt: skip
            out.print(f"wrote [bold]{out_dir / 'report.json'}[/] and [bold]{out_dir / 'report.md'}[/]")
            return
        try:
            seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
        except ValueError:
            raise YingyanError(f"--seeds {seeds!r}: not a comma-separated list of integers") from None
        from dataclasses import replace

        from yingyan.sim.families import FamilyName

        options = EvalOptions(seeds=seed_list, duration_s=duration, detector=detector, model=model, fps=fps, jobs=jobs)
        # A family is evaluated as the scenarios its seeds draw, each simulated with its own seed.
        runs: list[tuple[str, EvalOptions]] = []
        if eval_set is not None:
            from yingyan.eval.sets import scenarios_of
            from yingyan.sim.families import parse_drawn

            for name in scenarios_of(eval_set):
                drawn = parse_drawn(name)
                assert drawn is not None
                runs.append((name, replace(options, seeds=(drawn[1],))))
        for name in scenarios or ([] if eval_set is not None else builtin_names()):
            if name in {f.value for f in FamilyName}:
                runs += [(f"{name}-s{seed}", replace(options, seeds=(seed,))) for seed in seed_list]
            else:
                runs.append((name, options))
        try:
            chosen = tuple(DetectorName(d.strip()) for d in detectors.split(",") if d.strip()) if detectors else ()
        except ValueError:
            names = ", ".join(d.value for d in DetectorName)
            raise YingyanError(f"--detectors {detectors!r}: each must be one of {names}") from None
        chosen = chosen or (detector,)
        every = tuple(sorted({s for _, o in runs for s in o.seeds}))
        results: dict[DetectorName, dict[int, ScenarioResult]] = {d: {} for d in chosen}
        began = time.perf_counter()

        def stem(d: DetectorName) -> str:
            return "report" if len(chosen) == 1 else f"report-{d.value}"

        def finished(index: int, found: list[ScenarioResult]) -> None:
            """Write the reports so far: a long evaluation shows its figures as it goes."""
            for d, result in zip(chosen, found, strict=True):
                results[d][index] = result
                done_here = [results[d][i] for i in sorted(results[d])]
                write_report(
                    done_here, out_dir, replace(options, detector=d, seeds=every),
                    wall_s=time.perf_counter() - began, stem=stem(d), pending=len(runs) - len(done_here),
                )  # fmt: skip
            progress.advance(task)

        with _progress() as progress:
            task = progress.add_task(f"scenarios evaluated ({', '.join(d.value for d in chosen)})", total=len(runs))
            evaluate_all(runs, out_dir, jobs, chosen, say=lambda t: progress.console.log(t), done=finished)
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for d in chosen:
        report = json.loads((out_dir / f"{stem(d)}.json").read_text(encoding="utf-8"))
        table = Table(title=f"evaluation, {d.value} (all measures in {out_dir / (stem(d) + '.md')})")
        table.add_column("scenario")
        for m in SUMMARY:
            table.add_column(m.replace("_", " "), justify="right")
        for name, row in [*report["scenarios"].items(), ("all", report["overall"])]:
            table.add_row(name, *(str(row[m]) for m in SUMMARY))
        out.print(table)


@baseline_app.command("learn")
def baseline_learn_cmd(
    history: Annotated[
        list[Path], typer.Argument(help="lane_state.csv files, or folders holding them (runs, analyses).")
    ],
    start: Annotated[
        str, typer.Option(help="Local date and time of stream second 0 of the history, e.g. 2026-11-23T07:00.")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Baseline JSON to write.")],
    bin_min: Annotated[int, typer.Option(help="Width of a time-of-day bin in minutes.", min=1, max=240)] = 15,
) -> None:
    """Learn per-lane usual speed, occupancy and flow (median, MAD) by time of day and day type."""
    from datetime import datetime

    from yingyan.incidents.baseline import learn, read_lane_state

    try:
        try:
            when = datetime.fromisoformat(start)
        except ValueError:
            raise YingyanError(f"--start {start!r}: not a date and time (e.g. 2026-11-23T07:00)") from None
        rows = read_lane_state(history)
        baseline = learn(rows, when, bin_min=bin_min)
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out_file.parent.mkdir(parents=True, exist_ok=True)
    baseline.save(out_file)
    learnt = sum(1 for b in baseline.bins if b.samples >= 3)
    out.print(
        f"{len(rows)} lane-intervals → {len(baseline.bins)} bins ({learnt} with 3+ intervals) in [bold]{out_file}[/]"
    )


@app.command("score-state")
def score_state(
    truth_dir: Annotated[
        Path, typer.Argument(help="Ground truth: a simulator run or any folder of lane_state.csv files.")
    ],
    pred_dir: Annotated[Path, typer.Argument(help="Measurements: `yingyan analyze` output(s).")],
) -> None:
    """Compare measured lane state with ground truth; print and write score.json in PRED_DIR."""
    from yingyan.traffic.score import TABLE_COLUMNS, read_lane_states, score

    try:
        overall, per_lane = score(read_lane_states(truth_dir), read_lane_states(pred_dir))
    except YingyanError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    table = Table(title=f"lane state: {pred_dir} against {truth_dir}")
    for col in ("lane", *TABLE_COLUMNS):
        table.add_column(col, justify="right")
    for name, e in [*per_lane.items(), ("overall", overall)]:
        table.add_row(name, *e.cells())
    out.print(table)
    report = {"overall": overall.as_dict(), "lanes": {k: v.as_dict() for k, v in per_lane.items()}}
    target = pred_dir if pred_dir.is_dir() else pred_dir.parent
    (target / "score.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


class RoleName(StrEnum):
    """Roles a user can have."""

    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    OFFICER = "officer"
    LIAISON = "liaison"
    VIEWER = "viewer"


SiteOpt = Annotated[Path | None, typer.Option("--config", help="Site YAML whose service section names the database.")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL (overrides the site file's).")]


def _database_url(config: Path | None, db: str | None) -> str:
    if db:
        return db
    if config is None:
        raise YingyanError("give --config SITE.yaml or --db URL")
    site = load_model(Site, config)
    data = Path(site.service.data_dir)
    data = data if data.is_absolute() else config.parent / data
    return site.service.database_url or f"sqlite:///{data / 'yingyan.db'}"


def _fail(error: YingyanError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@app.command("serve")
def serve_cmd(
    config: Annotated[Path, typer.Option("--config", help="Site YAML: cameras, graph, rules and the service section.")],
    db: DbOpt = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default: the site file's).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: the site file's; 0: any free).")] = None,
    cameras: Annotated[bool, typer.Option(help="Run the site's camera pipelines and the engine here.")] = True,
    replay: Annotated[
        Path | None, typer.Option(help="Replay a `yingyan run` output folder instead of running the cameras.")
    ] = None,
    speed: Annotated[float, typer.Option(help="Files and replays at this multiple of real time.", min=0.01)] = 1.0,
    start: Annotated[str | None, typer.Option(help="Local date and time of stream second 0.")] = None,
    baseline: Annotated[Path | None, typer.Option(help="Baseline JSON; default: the site file's.")] = None,
    detector: DetectorOpt = DetectorName.MOTION,
    model: ModelOpt = None,
    fps: FpsOpt = 5.0,
    check: Annotated[
        bool, typer.Option("--check", help="Only check the configuration (as at every start) and say what is wrong.")
    ] = False,
) -> None:
    """Run the incident service (API, alert push, workflow) and, by default, the site's cameras and engine."""
    import uvicorn

    from yingyan.service import preflight
    from yingyan.service.api import create_app
    from yingyan.service.runtime import ServeOptions, ServiceRuntime

    try:
        options = ServeOptions(
            db_url=db, host=host, port=port, cameras=cameras, replay=replay, speed=speed, start=_start_time(start),
            baseline=baseline, detector=detector, model=model, fps=fps,
        )  # fmt: skip
        if check:
            site = load_model(Site, config)
            found = preflight.problems(site, config, options)
            for problem in found:
                err.print(f"[bold red]error:[/] {config}: {problem}", highlight=False, soft_wrap=True)
            if found:
                raise typer.Exit(2)
            from sqlalchemy.engine import make_url

            url = make_url(preflight.database_url(site, config.parent, options)).render_as_string(hide_password=True)
            out.print(f"{config}: the service can start as configured ({len(site.cameras)} cameras, database {url})")
            return
        runtime = ServiceRuntime(config, options)
    except YingyanError as error:
        raise _fail(error) from None
    address = host or runtime.config.host
    listen = runtime.config.port if port is None else port
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host=address, port=listen, log_config=None,
                                           ws="websockets-sansio", lifespan="on"))  # fmt: skip
    out.print(
        f"Yingyan service for [bold]{runtime.site.name}[/] on http://{address}:{listen} (database {runtime.db.url})"
    )
    try:
        server.run()  # Ctrl-C (or SIGTERM): uvicorn finishes requests, the runtime stops its threads
    except KeyboardInterrupt:
        pass  # uvicorn hands the signal on once it has shut down: the shutdown is complete here
    out.print("Yingyan service stopped")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[RoleName, typer.Option(help="admin, dispatcher, officer, liaison or viewer.")],
    district: Annotated[
        list[str] | None, typer.Option("--district", help="District the user works in (repeat; *: all).")
    ] = None,
    department: Annotated[str | None, typer.Option(help="Department code (liaisons).")] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    supervisor: Annotated[bool, typer.Option(help="Receives escalations of unacknowledged alerts.")] = False,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
    config: SiteOpt = None,
    db: DbOpt = None,
) -> None:
    """Add a user (the password is asked for, or read from standard input)."""
    import sys

    from yingyan.service.auth import add_user
    from yingyan.service.db import open_database
    from yingyan.service.workflow import Role

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        database = open_database(_database_url(config, db))
        with database.sessions.begin() as s:
            if config is not None:
                from yingyan.service import models as m

                site = load_model(Site, config)
                for dept in site.service.departments:
                    if s.get(m.Department, dept.code) is None:
                        s.add(m.Department(code=dept.code, name_zh=dept.name_zh, name_en=dept.name_en))
                names = {d.id: d.name for d in site.service.districts}
                for known in sorted(set(names) | {c.district for c in site.cameras}):
                    if s.get(m.District, known) is None:
                        s.add(m.District(id=known, name=names.get(known) or known))
                s.flush()
            user = add_user(s, username, password, Role(role.value), district or [], department, name, supervisor)
            out.print(
                f"user [bold]{user.username}[/] ({user.role}, districts {', '.join(user.districts) or '-'}) added"
            )
        database.dispose()
    except YingyanError as error:
        raise _fail(error) from None


@user_app.command("list")
def user_list(config: SiteOpt = None, db: DbOpt = None) -> None:
    """List the users."""
    from sqlalchemy import select

    from yingyan.service import models as m
    from yingyan.service.db import open_database

    try:
        database = open_database(_database_url(config, db))
    except YingyanError as error:
        raise _fail(error) from None
    table = Table(title="users")
    for col in ("user", "name", "role", "districts", "department", "supervisor", "state"):
        table.add_column(col)
    with database.sessions() as s:
        for u in s.scalars(select(m.User).order_by(m.User.username)):
            table.add_row(u.username, u.display_name, u.role, ", ".join(u.districts), u.department or "",
                          "yes" if u.supervisor else "", "disabled" if u.disabled else "active")  # fmt: skip
    database.dispose()
    out.print(table)


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="Login name.")], config: SiteOpt = None, db: DbOpt = None
) -> None:
    """Disable a user: their sessions stop working at once; their record stays."""
    from sqlalchemy import select

    from yingyan.service import models as m
    from yingyan.service.db import open_database

    try:
        database = open_database(_database_url(config, db))
        with database.sessions.begin() as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            if user is None:
                raise YingyanError(f"no user {username!r}")
            user.disabled = True
        database.dispose()
    except YingyanError as error:
        raise _fail(error) from None
    out.print(f"user [bold]{username}[/] disabled")


if __name__ == "__main__":
    app()
