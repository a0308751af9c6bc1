"""H.264 MP4 writing with PyAV (libx264)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np


class VideoWriter:
    """Write BGR frames to an H.264 MP4 at a constant frame rate.

    >>> import tempfile, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "x.mp4"
    >>> with VideoWriter(path, 64, 48, fps=10, crf=23) as writer:
    ...     writer.write(np.zeros((48, 64, 3), np.uint8))
    >>> path.stat().st_size > 0
    True
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        crf: int = 23,
        preset: str = "veryfast",
        maxrate_kbps: int | None = None,
    ) -> None:
        self._container = av.open(str(path), mode="w")
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = "yuv420p"
        options: dict[str, object] = {
            "crf": str(crf),
            "preset": preset,
            "g": str(max(int(round(fps * 2)), 1)),
            "threads": "1",
        }
        if maxrate_kbps is not None:  # a camera's bitrate cap: CRF quality, but never above the cap (VBV)
            options |= {"maxrate": f"{maxrate_kbps}k", "bufsize": f"{2 * maxrate_kbps}k"}
        self._stream.options = options
        self._stream.codec_context.time_base = 1 / rate
        self._count = 0

    def write(self, frame: np.ndarray) -> None:
        """Encode one BGR frame (height, width, 3) uint8."""
        video_frame = av.VideoFrame.from_ndarray(frame, format="bgr24")
        video_frame.pts = self._count
        self._count += 1
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and close the file."""
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
