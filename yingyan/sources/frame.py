"""Frames and source health: what a source hands to analysis and reports about itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    ``time_s`` is stream time: from the stream's own timestamps, starting where the stream
    starts, and continuing (never jumping back) across reconnects.
    """

    image: np.ndarray  # BGR, height × width × 3, uint8
    time_s: float
    index: int  # position among the frames handed to analysis
    decoded_index: int  # position among all decoded frames


class StreamState(StrEnum):
    """Where a source stands."""

    STARTING = "starting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True)
class SourceHealth:
    """A snapshot of a source's health, as the health page and the logs show it."""

    uri: str
    state: StreamState
    reconnects: int
    decoded: int
    delivered: int  # handed to analysis
    dropped_rate: int  # skipped to meet the analysis rate (by design)
    dropped_queue: int  # lost because analysis fell behind a live stream (oldest first)
    fps_in: float  # decoded frames per wall-clock second, last few seconds
    fps_out: float  # frames handed to analysis per wall-clock second, last few seconds
    last_frame_time_s: float | None  # stream time of the newest decoded frame
    last_frame_age_s: float | None  # wall-clock seconds since the newest decoded frame
    error: str | None  # the latest open/decode error, if any

    @property
    def connected(self) -> bool:
        """Whether frames are flowing."""
        return self.state is StreamState.CONNECTED
