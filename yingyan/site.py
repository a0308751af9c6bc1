"""Site configuration: the cameras of a deployment, their sources and calibrations, and the
checkpoint graph (which checkpoint lies upstream of which, how far, on what class of road).

The simulator writes a ``site.yaml`` for each run; a real site uses the same format with
RTSP URLs as sources (see ``docs/formats.md``). Relative paths are relative to the site file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from yingyan.config import StrictModel, load_model
from yingyan.incidents.rules import EventRules, IncidentRules
from yingyan.service.config import ServiceConfig
from yingyan.traffic.levels import RoadClass


class SiteCamera(StrictModel):
    """One checkpoint camera of the site."""

    id: str = Field(
        title="Camera id",
        description="Stable camera id, as in logs, the API and the console.",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
    )
    name: str = Field(
        default="", title="Name", description="Human name of the checkpoint, e.g. 人民路与解放路口北向南."
    )
    source: str | None = Field(
        default=None,
        title="Source",
        description="Video file path, image folder, or stream URL (rtsp://, rtmp://, http(s)://); none (a "
        "simulation run without video): the camera can be replayed (`serve --replay`), not analysed.",
    )
    calibration: str = Field(title="Calibration", description="Path of the camera's calibration JSON.")
    fps: float | None = Field(
        default=None,
        title="Analysis rate (fps)",
        description="Frames per second to analyse; default: the stream's own rate.",
        gt=0,
        le=60,
    )
    position_m: float | None = Field(
        default=None,
        title="Position (m)",
        description="Chainage of the checkpoint along its road, for network reasoning.",
    )
    direction: str = Field(
        default="forward", title="Direction watched", description="Carriageway whose traffic the camera measures."
    )
    road_class: RoadClass = Field(
        default=RoadClass.ARTERIAL, title="Road class", description="Road class at the checkpoint."
    )
    road_x_is_chainage: bool = Field(
        default=False,
        title="Road x is chainage",
        description="The calibration's road-plane x axis is the chainage along the road (as the simulator writes): "
        "events are placed on the road by their x. Otherwise at the checkpoint's position.",
    )
    district: str = Field(
        default="default", title="District", description="Police district responsible for the checkpoint."
    )
    rules: EventRules = Field(
        default_factory=EventRules,
        title="Event rules",
        description="The camera's event-detector rules (dwell times, no-parking and parking lanes, thresholds).",
    )


class SiteLink(StrictModel):
    """A directed road link between two checkpoints, in the direction of travel."""

    upstream: str = Field(title="Upstream camera", description="Camera id traffic comes from.")
    downstream: str = Field(title="Downstream camera", description="Camera id traffic goes to.")
    distance_m: float = Field(title="Distance (m)", description="Road distance between the two checkpoints.", gt=0)
    road_class: RoadClass = Field(default=RoadClass.ARTERIAL, title="Road class", description="Road class of the link.")
    lanes: int = Field(default=2, title="Lanes", description="Travel lanes on the link.", ge=1, le=8)
    speed_limit_kmh: float = Field(
        default=60.0, title="Speed limit (km/h)", description="Posted speed limit on the link.", gt=0
    )


class Site(StrictModel):
    """A deployment: cameras and the checkpoint graph."""

    name: str = Field(title="Site name", description="Name of the site or city district.")
    timezone: str = Field(
        default="Asia/Shanghai", title="Time zone", description="Local time zone for the console and reports."
    )
    cameras: list[SiteCamera] = Field(title="Cameras", description="The checkpoint cameras.", min_length=1)
    links: list[SiteLink] = Field(
        default_factory=list, title="Links", description="Directed links of the checkpoint graph."
    )
    incident_rules: IncidentRules = Field(
        default_factory=IncidentRules,
        title="Incident rules",
        description="How the incident engine joins events, judges abnormal congestion and places sources.",
    )
    baseline: str | None = Field(
        default=None,
        title="Baseline",
        description="Baseline JSON (`yingyan baseline learn`); none: the road classes' cold start.",
    )
    service: ServiceConfig = Field(
        default_factory=ServiceConfig,
        title="Incident service",
        description="Storage, alert push, escalation and access of `yingyan serve`.",
    )

    @model_validator(mode="after")
    def _references(self) -> Site:
        ids = [c.id for c in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("camera ids must be unique")
        known = set(ids)
        for i, link in enumerate(self.links):
            for end in ("upstream", "downstream"):
                if getattr(link, end) not in known:
                    raise ValueError(f"links.{i}.{end} names unknown camera {getattr(link, end)!r}")
        districts = [d.id for d in self.service.districts]
        for i, cam in enumerate(self.cameras):
            if districts and cam.district not in districts:  # a typo would make a district nobody watches
                raise ValueError(
                    f"cameras.{i}.district {cam.district!r} (camera {cam.id}) is not one of service.districts "
                    f"({', '.join(districts)})"
                )
        return self


def load_site(path: Path) -> Site:
    """Load and validate a site YAML file."""
    return load_model(Site, path)
