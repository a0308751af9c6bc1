"""A source read on its own thread: pacing to the analysis rate, a bounded queue, reconnects, health.

>>> from yingyan.sources import FrameReader, SourceConfig
>>> with FrameReader(SourceConfig(uri="clip.mp4", fps=5)) as reader:  # doctest: +SKIP
...     for frame in reader:
...         print(frame.time_s, frame.image.shape)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType

from yingyan.errors import SourceError
from yingyan.sources.config import SourceConfig
from yingyan.sources.frame import Frame, SourceHealth, StreamState
from yingyan.sources.openers import Decoded, decode

log = logging.getLogger(__name__)

_END = object()
RATE_WINDOW_S = 5.0

Decoder = Callable[[SourceConfig], Iterator[Decoded]]


class _Rate:
    """Events per second over the last few wall-clock seconds."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        while self._times and now - self._times[0] > RATE_WINDOW_S:
            self._times.popleft()

    def value(self, now: float) -> float:
        while self._times and now - self._times[0] > RATE_WINDOW_S:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(now - self._times[0], 1e-6)


class FrameReader:
    """Decode a source on a background thread and hand frames to analysis at the configured rate.

    Files are read completely (the reader waits for analysis); live streams never wait:
    when analysis falls behind, the oldest queued frame is dropped and counted. A lost or
    stalled live stream is reopened for ever with exponential backoff. ``health()`` reports
    the state at any time; iteration raises :class:`SourceError` when a source that does not
    reconnect fails.
    """

    def __init__(self, config: SourceConfig, name: str | None = None, decoder: Decoder = decode) -> None:
        self.config = config
        self.name = name or config.shown
        self._decoder = decoder
        self._queue: queue.Queue[object] = queue.Queue(maxsize=config.queue_size)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = StreamState.STARTING
        self._reconnects = 0
        self._decoded = 0
        self._delivered = 0
        self._dropped_rate = 0
        self._dropped_queue = 0
        self._in = _Rate()
        self._out = _Rate()
        self._last_time: float | None = None
        self._last_wall: float | None = None
        self._error: str | None = None

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> FrameReader:
        """Start decoding (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"source-{self.name}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop decoding and release the source; returns within about the open timeout."""
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread is not None:
            self._thread.join(timeout=self.config.open_timeout_s + 5.0)
        with self._lock:
            if self._state not in (StreamState.ENDED, StreamState.FAILED):
                self._state = StreamState.CLOSED

    def __enter__(self) -> FrameReader:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- consumer side ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        self.start()
        while True:
            try:
                item = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if item is _END:
                return
            if isinstance(item, SourceError):
                raise item
            assert isinstance(item, Frame)
            with self._lock:
                self._out.tick(time.monotonic())
                self._delivered += 1
            yield item

    def health(self) -> SourceHealth:
        """A snapshot of the source's state and counters."""
        now = time.monotonic()
        with self._lock:
            return SourceHealth(
                uri=self.config.shown,
                state=self._state,
                reconnects=self._reconnects,
                decoded=self._decoded,
                delivered=self._delivered,
                dropped_rate=self._dropped_rate,
                dropped_queue=self._dropped_queue,
                fps_in=self._in.value(now),
                fps_out=self._out.value(now),
                last_frame_time_s=self._last_time,
                last_frame_age_s=None if self._last_wall is None else now - self._last_wall,
                error=self._error,
            )

    # -- producer side ---------------------------------------------------------------
    def _set_state(self, state: StreamState, error: str | None = None) -> None:
        with self._lock:
            self._state = state
            if error is not None:
                self._error = error

    def _put(self, item: object) -> bool:
        """Queue an item; False if the reader was closed meanwhile."""
        if self.config.is_live and isinstance(item, Frame):
            while not self._stop.is_set():
                try:
                    self._queue.put_nowait(item)
                    return True
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                        with self._lock:
                            self._dropped_queue += 1
                    except queue.Empty:
                        pass
            return False
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.25)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        backoff = self.config.backoff_initial_s
        period = 1.0 / self.config.fps if self.config.fps else 0.0
        next_due: float | None = None
        offset = 0.0  # added to stream time so that it continues across reconnects
        delivered = 0  # frames queued for analysis (some may yet be dropped from the queue)
        wall_start: float | None = None  # paced files: when stream second 0 was due
        while not self._stop.is_set():
            segment_start: float | None = None
            try:
                for t_stream, image in self._decoder(self.config):  # image: converts on demand
                    if self._stop.is_set():
                        return
                    now = time.monotonic()
                    if segment_start is None:
                        segment_start = t_stream
                        if self._last_time is not None:
                            # After a reconnect, continue from the last frame plus the outage.
                            gap = now - (self._last_wall or now)
                            offset = self._last_time + max(gap, period or 0.04) - t_stream
                        self._set_state(StreamState.CONNECTED)
                        backoff = self.config.backoff_initial_s
                    t = t_stream + offset
                    if self.config.pace and not self.config.is_live:
                        # A file played as a camera sends it: frame t is due at start + t / pace.
                        wall_start = wall_start if wall_start is not None else now - t / self.config.pace
                        if self._stop.wait(max(wall_start + t / self.config.pace - now, 0.0)):
                            return
                        now = time.monotonic()
                    with self._lock:
                        self._decoded += 1
                        decoded_index = self._decoded - 1
                        self._last_time, self._last_wall = t, now
                        self._in.tick(now)
                    if period:
                        if next_due is not None and t < next_due - 1e-3:
                            with self._lock:
                                self._dropped_rate += 1
                            continue
                        next_due = t + period if next_due is None or t - next_due > period else next_due + period
                    frame = Frame(image=image(), time_s=t, index=delivered, decoded_index=decoded_index)
                    if not self._put(frame):
                        return
                    delivered += 1
            except SourceError as error:
                log.warning("%s: %s", self.name, error)
                if not self.config.reconnects:
                    self._set_state(StreamState.FAILED, str(error))
                    self._put(error)
                    return
                self._set_state(StreamState.RECONNECTING, str(error))
            else:
                if not self.config.reconnects:
                    self._set_state(StreamState.ENDED)
                    self._put(_END)
                    return
                log.warning("%s: stream ended; reconnecting", self.name)
                self._set_state(StreamState.RECONNECTING, "stream ended")
            with self._lock:
                self._reconnects += 1
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2.0, self.config.backoff_max_s)
