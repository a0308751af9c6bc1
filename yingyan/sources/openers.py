"""Open a source once and decode it: video files and streams through PyAV (FFmpeg), image folders through OpenCV."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from yingyan.errors import SourceError
from yingyan.sources.config import SourceConfig

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

# (stream time in s, a call that returns the BGR image): the image is only converted for
# frames that analysis keeps.
Decoded = tuple[float, Callable[[], np.ndarray]]


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def decode(config: SourceConfig) -> Iterator[Decoded]:
    """Open the source once and yield (stream time in s, image getter) until it ends.

    Raises SourceError when the source cannot be opened or its data cannot be decoded.
    """
    path = Path(config.uri)
    if not config.is_live and path.is_dir():
        yield from _decode_folder(path, config.image_fps)
        return
    if not config.uri.lower().startswith(("rtsp", "rtmp", "http", "udp", "srt")) and not path.exists():
        raise SourceError(f"source {config.shown}: no such file or folder")
    yield from _decode_av(config)


def _decode_av(config: SourceConfig) -> Iterator[Decoded]:
    options = {"rtsp_transport": "tcp"} if config.uri.lower().startswith("rtsp") else {}
    try:
        container = av.open(config.uri, options=options, timeout=(config.open_timeout_s, config.open_timeout_s))
    except (av.FFmpegError, OSError) as error:
        raise SourceError(f"source {config.shown}: cannot open ({_reason(error)})") from None
    try:
        if not container.streams.video:
            raise SourceError(f"source {config.shown}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if config.fast_decode:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        count = 0
        try:
            for frame in container.decode(stream):
                t = frame.time

                def image(frame: av.VideoFrame = frame) -> np.ndarray:
                    return np.asarray(frame.to_ndarray(format="bgr24"))

                yield (float(t) if t is not None else count / rate), image
                count += 1
        except (av.FFmpegError, OSError) as error:
            raise SourceError(
                f"source {config.shown}: decoding failed after {count} frames ({_reason(error)})"
            ) from None
        if count == 0:
            raise SourceError(f"source {config.shown}: no decodable video frames")
    finally:
        container.close()


def _decode_folder(folder: Path, fps: float) -> Iterator[Decoded]:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
    if not files:
        raise SourceError(f"source {folder}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
    for i, path in enumerate(files):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"source {folder}: cannot read image {path.name}")
        loaded: np.ndarray = np.asarray(image)
        yield i / fps, loaded.copy


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return text.split("; last error log")[0].strip()
