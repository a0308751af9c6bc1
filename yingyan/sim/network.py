"""Build the SUMO network of a scenario: a straight corridor along the x axis.

Chainage equals the x coordinate (netconvert's offset normalisation is disabled); forward
lanes lie at negative y (right-hand traffic), reverse lanes at positive y. Edges are split
where the lane count changes (lane drop), around each lane closure (so that one short work
zone can be closed without closing the whole link) and at the junction.
"""

from __future__ import annotations

import itertools
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import sumo

from yingyan.errors import SimulationError
from yingyan.sim.scenario import Direction, IncidentType, Scenario

VEHICLE_CLASSES: tuple[str, ...] = ("car", "bus", "truck", "motorcycle")


@dataclass(frozen=True)
class VehicleType:
    """A simulated vehicle type: its detector class, body shape and driving parameters."""

    id: str  # SUMO vType id, also the body shape the renderer draws
    cls: str  # detector class (one of VEHICLE_CLASSES)
    vclass: str  # SUMO vehicle class
    length_m: float
    width_m: float
    height_m: float
    min_gap_m: float
    accel: float
    decel: float
    max_speed_mps: float
    share_of_class: float  # share of this type within its class


VEHICLE_TYPES: dict[str, VehicleType] = {
    t.id: t
    for t in (
        VehicleType("sedan", "car", "passenger", 4.6, 1.8, 1.45, 2.5, 2.6, 4.5, 50.0, 0.55),
        VehicleType("suv", "car", "passenger", 4.8, 1.9, 1.75, 2.5, 2.4, 4.5, 50.0, 0.30),
        VehicleType("van", "car", "passenger", 5.0, 1.9, 2.0, 2.5, 2.0, 4.5, 45.0, 0.15),
        VehicleType("bus", "bus", "bus", 12.0, 2.5, 3.2, 3.0, 1.2, 4.0, 25.0, 1.0),
        VehicleType("truck", "truck", "truck", 9.0, 2.5, 3.4, 3.0, 1.3, 4.0, 25.0, 1.0),
        VehicleType("motorcycle", "motorcycle", "motorcycle", 2.1, 0.8, 1.5, 2.0, 3.0, 6.0, 40.0, 1.0),
    )
}


@dataclass(frozen=True)
class Segment:
    """One SUMO edge of the corridor."""

    edge_id: str
    direction: Direction
    start_m: float  # lower chainage bound
    end_m: float  # upper chainage bound
    lanes: int


@dataclass(frozen=True)
class BuiltNetwork:
    """The files and the segment table of a built network."""

    net_file: Path
    route_file: Path
    segments: tuple[Segment, ...]
    junction_x: float | None

    def segment_at(self, direction: Direction, chainage_m: float) -> Segment:
        """The edge of ``direction`` that contains ``chainage_m``."""
        for seg in self.segments:
            if seg.direction is direction and seg.start_m <= chainage_m < seg.end_m:
                return seg
        for seg in self.segments:
            if seg.direction is direction and seg.start_m <= chainage_m <= seg.end_m:
                return seg
        raise SimulationError(f"no {direction.value} edge at chainage {chainage_m:.1f} m")

    def route(self, direction: Direction) -> list[str]:
        """Edge ids of a through route in ``direction``."""
        segs = sorted((s for s in self.segments if s.direction is direction), key=lambda s: s.start_m)
        if direction is Direction.REVERSE:
            segs.reverse()
        return [s.edge_id for s in segs]


def sumo_binary(name: str) -> str:
    """Path of a SUMO executable shipped by the eclipse-sumo wheel."""
    return str(Path(sumo.SUMO_HOME) / "bin" / name)


def breakpoints(scenario: Scenario) -> list[float]:
    """Chainages where the corridor is split into edges."""
    net = scenario.network
    points = {0.0, net.length_m}
    if net.lane_drop is not None:
        points |= {net.lane_drop.start_m, net.lane_drop.end_m}
    if net.cross_street is not None:
        points.add(net.cross_street.position_m)
    for inc in scenario.incidents:
        if inc.type is IncidentType.LANE_CLOSURE:
            points |= {inc.position_m, inc.position_m + inc.length_m}
    ordered = sorted(points)
    merged = [ordered[0]]
    for p in ordered[1:]:
        if p - merged[-1] >= 5.0:
            merged.append(p)
    merged[-1] = net.length_m
    return merged


def lanes_between(scenario: Scenario, direction: Direction, a: float, b: float) -> int:
    """Lane count of the stretch [a, b] in a direction (the lane drop applies forward only)."""
    drop = scenario.network.lane_drop
    if direction is Direction.FORWARD and drop is not None and a >= drop.start_m - 1e-6 and b <= drop.end_m + 1e-6:
        return drop.lanes
    return scenario.network.lanes


def build_network(scenario: Scenario, workdir: Path) -> BuiltNetwork:
    """Write nodes, edges, types and routes, run netconvert, and return the segment table."""
    net = scenario.network
    points = breakpoints(scenario)
    speed = net.speed_limit_kmh / 3.6
    nodes = ET.Element("nodes")
    junction_x = net.cross_street.position_m if net.cross_street is not None else None
    for i, x in enumerate(points):
        attrs = {"id": f"n{i}", "x": f"{x:.2f}", "y": "0"}
        if junction_x is not None and abs(x - junction_x) < 1e-6:
            attrs["type"] = "traffic_light"
        else:
            attrs["type"] = "priority"
        ET.SubElement(nodes, "node", attrs)
    edges = ET.Element("edges")
    segments: list[Segment] = []
    for i, (a, b) in enumerate(itertools.pairwise(points)):
        n_fwd = lanes_between(scenario, Direction.FORWARD, a, b)
        ET.SubElement(
            edges,
            "edge",
            {"id": f"F{i}", "from": f"n{i}", "to": f"n{i + 1}", "type": "corridor", "numLanes": str(n_fwd)},
        )
        segments.append(Segment(f"F{i}", Direction.FORWARD, a, b, n_fwd))
        if net.two_way:
            ET.SubElement(
                edges,
                "edge",
                {"id": f"R{i}", "from": f"n{i + 1}", "to": f"n{i}", "type": "corridor", "numLanes": str(net.lanes)},
            )
            segments.append(Segment(f"R{i}", Direction.REVERSE, a, b, net.lanes))
    if net.cross_street is not None:
        cs = net.cross_street
        j = points.index(cs.position_m)
        for name, y in (("north", cs.length_m), ("south", -cs.length_m)):
            ET.SubElement(nodes, "node", {"id": name, "x": f"{cs.position_m:.2f}", "y": f"{y:.2f}", "type": "priority"})
            ET.SubElement(
                edges,
                "edge",
                {"id": f"{name}_in", "from": name, "to": f"n{j}", "type": "cross", "numLanes": str(cs.lanes)},
            )
            ET.SubElement(
                edges,
                "edge",
                {"id": f"{name}_out", "from": f"n{j}", "to": name, "type": "cross", "numLanes": str(cs.lanes)},
            )
    types = ET.Element("types")
    ET.SubElement(
        types, "type", {"id": "corridor", "priority": "3", "speed": f"{speed:.3f}", "width": f"{net.lane_width_m:.2f}"}
    )
    ET.SubElement(
        types,
        "type",
        {"id": "cross", "priority": "2", "speed": f"{min(speed, 13.89):.3f}", "width": f"{net.lane_width_m:.2f}"},
    )
    workdir.mkdir(parents=True, exist_ok=True)
    files = {"nod": nodes, "edg": edges, "typ": types}
    for suffix, root in files.items():
        ET.ElementTree(root).write(workdir / f"corridor.{suffix}.xml", encoding="utf-8", xml_declaration=True)
    net_file = workdir / "corridor.net.xml"
    cmd = [
        sumo_binary("netconvert"),
        "-n",
        str(workdir / "corridor.nod.xml"),
        "-e",
        str(workdir / "corridor.edg.xml"),
        "-t",
        str(workdir / "corridor.typ.xml"),
        "-o",
        str(net_file),
        "--offset.disable-normalization",
        "true",
        "--no-turnarounds",
        "true",
        "--tls.default-type",
        "static",
        "--no-warnings",
        "true",
    ]
    if net.cross_street is not None:
        cmd += ["--tls.cycle.time", str(int(net.cross_street.cycle_s))]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SimulationError(f"netconvert failed: {proc.stderr.strip() or proc.stdout.strip()}")
    built = BuiltNetwork(net_file, workdir / "corridor.rou.xml", tuple(segments), junction_x)
    write_routes(scenario, built)
    return built


def _flows(parent: ET.Element, flow_id: str, route_id: str, steps: list[tuple[float, float]], until: float) -> None:
    """Poisson flows, one per 30 s slice, following a piecewise-linear demand profile."""
    times = [t for t, _ in steps]
    rates = [r for _, r in steps]
    t = 0.0
    k = 0
    while t < until:
        t_end = min(t + 30.0, until)
        mid = 0.5 * (t + t_end)
        rate = _interp(mid, times, rates)
        if rate > 0.5:
            ET.SubElement(
                parent,
                "flow",
                {
                    "id": f"{flow_id}.{k}",
                    "type": "mix",
                    "route": route_id,
                    "begin": f"{t:.1f}",
                    "end": f"{t_end:.1f}",
                    "period": f"exp({rate / 3600.0:.6f})",
                    "departLane": "best",
                    "departSpeed": "desired",
                    "departPos": "base",
                },
            )
        t = t_end
        k += 1


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    if x <= xs[0]:
        return ys[0]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1
    return ys[-1]


def write_routes(scenario: Scenario, built: BuiltNetwork) -> None:
    """Vehicle types and Poisson demand; simulation time 0 is the start of the warm-up."""
    routes = ET.Element("routes")
    mix = scenario.demand.mix
    shares = {"car": mix.car, "bus": mix.bus, "truck": mix.truck, "motorcycle": mix.motorcycle}
    dist = ET.SubElement(routes, "vTypeDistribution", {"id": "mix"})
    for vt in VEHICLE_TYPES.values():
        ET.SubElement(
            dist,
            "vType",
            {
                "id": vt.id,
                "vClass": vt.vclass,
                "length": str(vt.length_m),
                "width": str(vt.width_m),
                "height": str(vt.height_m),
                "minGap": str(vt.min_gap_m),
                "tau": "1.3",
                "accel": str(vt.accel),
                "decel": str(vt.decel),
                "emergencyDecel": "9",
                "maxSpeed": str(vt.max_speed_mps),
                "speedFactor": "normc(1.0,0.08,0.75,1.25)",
                "sigma": "0.5",
                "probability": f"{shares[vt.cls] * vt.share_of_class:.6f}",
            },
        )
    warm = scenario.warmup_s
    until = warm + scenario.duration_s
    profiles: list[tuple[str, Direction, list[tuple[float, float]]]] = [
        ("fwd", Direction.FORWARD, [(s.at_s + warm, s.veh_per_hour) for s in scenario.demand.forward]),
    ]
    if scenario.network.two_way:
        profiles.append(("rev", Direction.REVERSE, [(s.at_s + warm, s.veh_per_hour) for s in scenario.demand.reverse]))
    for name, direction, steps in profiles:
        steps = [(0.0, steps[0][1]), *steps]
        ET.SubElement(routes, "route", {"id": name, "edges": " ".join(built.route(direction))})
        _flows(routes, name, name, steps, until)
    cs = scenario.network.cross_street
    if cs is not None:
        for src, dst in (("north", "south"), ("south", "north")):
            rid = f"{src}_{dst}"
            ET.SubElement(routes, "route", {"id": rid, "edges": f"{src}_in {dst}_out"})
            _flows(routes, rid, rid, [(0.0, cs.veh_per_hour)], until)
    # SUMO wants flows sorted by begin time.
    flows = sorted(routes.findall("flow"), key=lambda e: float(e.get("begin", "0")))
    for f in flows:
        routes.remove(f)
    routes.extend(flows)
    ET.ElementTree(routes).write(built.route_file, encoding="utf-8", xml_declaration=True)
