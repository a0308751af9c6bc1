"""Open a source once and decode it: video files and streams through PyAV (FFmpeg), image folders through OpenCV."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from yingyan.errors import SourceError
from yingyan.sources.config import SourceConfig

log = logging.getLogger(__name__)

MAX_DAMAGED = 50  # a file whose reading fails this often is given up
MIN_DECODED_SHARE = 0.5  # a file of which less than this share of its frames decodes is an error, not a warning
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
        damaged: list[float] = []  # stream times near packets that could not be read or decoded
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, OSError) as error:
                # A damaged stretch of a file is passed over, as FFmpeg's players do; a live stream that
                # breaks, or a file that does nothing but break, ends here (the reader reconnects a stream).
                damaged.append(count / rate)
                if config.is_live or len(damaged) > MAX_DAMAGED:
                    raise SourceError(
                        f"source {config.shown}: decoding failed after {count} frames ({_reason(error)})"
                    ) from None
                continue
            try:
                frames = packet.decode()
            except (av.FFmpegError, OSError):
                damaged.append(count / rate)
                continue
            for frame in frames:
                t = frame.time

                def image(frame: av.VideoFrame = frame) -> np.ndarray:
                    return np.asarray(frame.to_ndarray(format="bgr24"))

                yield (float(t) if t is not None else count / rate), image
                count += 1
        if count == 0:
            raise SourceError(f"source {config.shown}: no decodable video frames")
        declared = int(stream.frames or 0)
        if not config.is_live and declared and count < declared * MIN_DECODED_SHARE:
            raise SourceError(
                f"source {config.shown}: only {count} of its {declared} frames could be decoded: the file is damaged"
            )
        if damaged:
            near = ", ".join(f"{t:.1f}" for t in sorted(set(damaged))[:5])
            log.warning("source %s: %d damaged parts passed over (near %s s); %d of %s frames decoded",
                        config.shown, len(damaged), near, count, declared or "?")  # fmt: skip
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
