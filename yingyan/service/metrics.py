"""Prometheus metrics of the service (``/metrics``): cameras, alert latency, push, incidents by state."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class _OpenIncidents(Collector):
    """Incidents by state, read from the database at each scrape."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("yingyan_incidents", "Incidents by workflow state", labels=["state"])
        try:
            counts = self._counts()
        except Exception:  # a scrape must not fail because the database is busy
            counts = {}
        for state, n in sorted(counts.items()):
            family.add_metric([state], n)
        yield family


class ServiceMetrics:
    """The service's metrics, in a registry of its own (several services may share a process in tests)."""

    def __init__(self, incident_counts: Callable[[], dict[str, int]] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.fps_in = Gauge(
            "yingyan_camera_fps_in", "Frames per second arriving from the camera", ["camera"], registry=r
        )
        self.fps_out = Gauge("yingyan_camera_fps_out", "Frames per second analysed", ["camera"], registry=r)
        self.drops = Gauge("yingyan_camera_dropped_frames", "Frames dropped since start", ["camera"], registry=r)
        self.reconnects = Gauge("yingyan_camera_reconnects", "Reconnects since start", ["camera"], registry=r)
        self.lag = Gauge("yingyan_camera_lag_seconds", "Pipeline lag behind the stream", ["camera"], registry=r)
        self.connected = Gauge(
            "yingyan_camera_connected", "1 while the camera's stream delivers", ["camera"], registry=r
        )
        self.last_frame = Gauge(
            "yingyan_camera_last_frame_timestamp_seconds", "Wall time of the last frame", ["camera"], registry=r
        )
        self.alert_latency = Histogram(
            "yingyan_alert_latency_seconds",
            "Alert decision to receipt on a terminal",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pushed = Counter("yingyan_push_sent_total", "Outbox messages sent", ["channel", "kind"], registry=r)
        self.push_failures = Counter("yingyan_push_failures_total", "Failed send attempts", ["channel"], registry=r)
        self.outbox_pending = Gauge("yingyan_outbox_pending", "Outbox messages waiting", registry=r)
        self.outbox_failed = Gauge(
            "yingyan_outbox_failed", "Outbox messages given up on (resent when their channel returns)", registry=r
        )
        self.faults = Gauge("yingyan_faults", "Parts of the service failing now (see /healthz)", registry=r)
        self.ingest_dropped = Counter(
            "yingyan_ingest_dropped_total", "Reports whose data could not be stored (logged)", registry=r
        )
        self.terminals = Gauge("yingyan_terminals_connected", "Terminals connected over WebSocket", registry=r)
        self.alerts = Counter("yingyan_alerts_total", "Alerts decided", ["district"], registry=r)
        self.escalations = Counter("yingyan_escalations_total", "Escalations of unacknowledged alerts", registry=r)
        self.logins_failed = Counter("yingyan_login_failures_total", "Failed logins", registry=r)
        if incident_counts is not None:
            r.register(_OpenIncidents(incident_counts))

    def camera(
        self,
        camera_id: str,
        state: str,
        fps_in: float,
        fps_out: float,
        dropped: int,
        reconnects: int,
        lag_s: float,
        last_frame_wall: float | None,
    ) -> None:
        self.fps_in.labels(camera_id).set(fps_in)
        self.fps_out.labels(camera_id).set(fps_out)
        self.drops.labels(camera_id).set(dropped)
        self.reconnects.labels(camera_id).set(reconnects)
        self.lag.labels(camera_id).set(lag_s)
        self.connected.labels(camera_id).set(1.0 if state == "connected" else 0.0)
        if last_frame_wall is not None:
            self.last_frame.labels(camera_id).set(last_frame_wall)

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
