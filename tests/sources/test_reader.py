"""Sources as a user meets them: files, folders, broken input, and a live stream that dies and comes back."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_or_skip
from tests.sources.live_server import LiveStreamServer, free_port, write_ts
from yingyan.errors import SourceError
from yingyan.sources import FrameReader, SourceConfig, StreamState
from yingyan.sources.frame import Frame


def _read_all(config: SourceConfig, limit_s: float = 30.0) -> tuple[list[Frame], FrameReader]:
    """Read a finite source to its end, failing instead of hanging."""
    frames: list[Frame] = []
    reader = FrameReader(config)
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            frames.extend(reader)
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    worker = threading.Thread(target=consume, daemon=True)
    with reader:
        worker.start()
        worker.join(limit_s)
    assert not worker.is_alive(), f"reading {config.uri} did not finish within {limit_s} s"
    if errors:
        raise errors[0]
    return frames, reader


def test_file_is_paced_to_the_analysis_rate_by_stream_time(tmp_path: Path) -> None:
    clip = write_ts(tmp_path / "clip.ts", seconds=6, fps=10)
    frames, reader = _read_all(SourceConfig(uri=str(clip), fps=2.5))
    times = [f.time_s for f in frames]
    assert len(frames) == 15  # 6 s at 2.5 fps
    assert np.allclose(np.diff(times), 0.4, atol=1e-6)
    health = reader.health()
    assert health.decoded == 60 and health.delivered == 15 and health.dropped_rate == 45
    assert health.dropped_queue == 0 and health.state is StreamState.ENDED
    assert frames[0].image.shape == (96, 160, 3) and [f.index for f in frames] == list(range(15))


def test_a_paced_file_arrives_as_a_camera_would_send_it(tmp_path: Path) -> None:
    """pace=2: a 3 s clip takes about 1.5 s of wall time; frames arrive when their stream time is due."""
    clip = write_ts(tmp_path / "clip.ts", seconds=3, fps=10)
    arrivals: list[tuple[float, float]] = []
    start = time.monotonic()
    with FrameReader(SourceConfig(uri=str(clip), fps=5, pace=2.0)) as reader:
        for frame in reader:
            arrivals.append((frame.time_s, time.monotonic() - start))
    assert len(arrivals) == 15
    wall = arrivals[-1][1]
    assert 1.2 <= wall <= 2.5, wall
    late = [(t, w) for t, w in arrivals if w < t / 2.0 - 0.15]
    assert not late, f"frames handed over before they were due: {late}"


def test_real_clip_at_five_fps() -> None:
    clip = shared_or_skip("videos", "two_lane_street.mp4")  # 24 fps, 38 s
    frames, reader = _read_all(SourceConfig(uri=str(clip), fps=5))
    times = np.array([f.time_s for f in frames])
    assert 185 <= len(frames) <= 192
    assert np.all(np.diff(times) > 0.15) and np.all(np.diff(times) < 0.25)
    assert reader.health().decoded > 850


def test_image_folder_in_natural_order(tmp_path: Path) -> None:
    for i in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), np.full((20, 30, 3), i * 20, np.uint8))
    frames, _ = _read_all(SourceConfig(uri=str(tmp_path), image_fps=4))
    assert [int(f.image[0, 0, 0]) for f in frames] == [20, 40, 200]
    assert [f.time_s for f in frames] == [0.0, 0.25, 0.5]


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text("not an image")
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.mp4", "no such file"),
        (
            lambda p: _file(p / "noise.mp4", np.random.default_rng(1).bytes(50_000)),
            "cannot open|no decodable|decoding failed",
        ),
        (lambda p: _file(p / "empty.mp4", b""), "cannot open|no decodable"),
        (lambda p: _folder(p / "empty_dir"), "holds no images"),
        (lambda p: _file(_folder(p / "imgs") / "a.png", b"not a png").parent, "cannot read image a.png"),
    ],
)
def test_bad_sources_fail_fast_naming_the_source(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    started = time.monotonic()
    with pytest.raises(SourceError, match=message) as info:
        _read_all(SourceConfig(uri=str(path)), limit_s=10)
    assert str(path) in str(info.value)
    assert time.monotonic() - started < 10


def test_truncated_file_yields_what_it_has_then_ends_or_says_so(tmp_path: Path) -> None:
    clip = write_ts(tmp_path / "clip.ts", seconds=4)
    cut = tmp_path / "cut.ts"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    try:
        frames, _ = _read_all(SourceConfig(uri=str(cut)))
    except SourceError as error:
        assert str(cut) in str(error)
    else:
        assert 5 < len(frames) < 40


def test_dead_url_fails_without_hanging_or_keeps_trying_when_live() -> None:
    url = f"http://127.0.0.1:{free_port()}/live.ts"
    with pytest.raises(SourceError, match="cannot open") as info:
        _read_all(SourceConfig(uri=url, reconnect=False, open_timeout_s=2), limit_s=10)
    assert url in str(info.value)
    reader = FrameReader(SourceConfig(uri=url, open_timeout_s=1, backoff_initial_s=0.1, backoff_max_s=0.4)).start()
    try:
        deadline = time.monotonic() + 5
        while reader.health().reconnects < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        health = reader.health()
        assert health.state is StreamState.RECONNECTING and health.reconnects >= 3
        assert health.error is not None and "cannot open" in health.error
    finally:
        started = time.monotonic()
        reader.close()
        assert time.monotonic() - started < 3


def test_live_stream_killed_and_restarted_mid_stream(tmp_path: Path) -> None:
    data = write_ts(tmp_path / "live.ts", seconds=8, fps=10).read_bytes()
    server = LiveStreamServer(data, free_port(), bytes_per_s=len(data) / 8.0)  # plays in real time
    server.start()
    config = SourceConfig(uri=server.url, fps=5, open_timeout_s=2, backoff_initial_s=0.2, backoff_max_s=0.5)
    frames: list[Frame] = []
    reader = FrameReader(config)
    consumer = threading.Thread(target=lambda: frames.extend(reader), daemon=True)
    try:
        with reader:
            consumer.start()
            _wait(lambda: len(frames) >= 8, 10, "first frames")
            assert reader.health().state is StreamState.CONNECTED
            server.stop()  # the camera dies mid-stream
            _wait(lambda: reader.health().state is StreamState.RECONNECTING, 10, "loss noticed")
            before = len(frames)
            time.sleep(1.0)
            server.start()  # and comes back
            _wait(lambda: len(frames) >= before + 8, 15, "frames after the restart")
            health = reader.health()
            assert health.state is StreamState.CONNECTED and health.reconnects >= 1
            assert health.last_frame_age_s is not None and health.last_frame_age_s < 2
    finally:
        server.stop()
    times = [f.time_s for f in frames]
    assert all(b > a for a, b in itertools.pairwise(times)), "stream time must never run backwards"
    assert times[before] - times[before - 1] > 1.0  # the outage shows as a gap, not as overlap


def test_slow_analysis_drops_old_live_frames_and_memory_stays_bounded(tmp_path: Path) -> None:
    data = write_ts(tmp_path / "live.ts", seconds=3, fps=10).read_bytes()
    server = LiveStreamServer(data, free_port(), bytes_per_s=len(data) / 0.5)  # six times faster than real time
    server.start()
    config = SourceConfig(uri=server.url, queue_size=4)
    frames: list[Frame] = []
    reader = FrameReader(config)
    try:
        with reader:
            for frame in reader:
                frames.append(frame)
                assert reader._queue.qsize() <= 4
                time.sleep(0.05)  # analysis slower than the stream
                if len(frames) == 12:
                    break
            health = reader.health()
            waiting = reader._queue.qsize()
    finally:
        server.stop()
    assert health.dropped_queue > 0 and health.delivered == len(frames)
    assert health.decoded >= health.delivered + health.dropped_queue + waiting


def _wait(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_fast_decoding_gives_the_same_frames_at_the_same_times_nearly_the_same_pixels() -> None:
    clip = shared_or_skip("videos", "two_lane_street.mp4")
    normal, _ = _read_all(SourceConfig(uri=str(clip), fps=5))
    fast, _ = _read_all(SourceConfig(uri=str(clip), fps=5, fast_decode=True))
    assert [f.time_s for f in fast] == [f.time_s for f in normal]
    diffs = [
        float(np.mean(np.abs(a.image.astype(int) - b.image.astype(int)))) for a, b in zip(normal, fast, strict=True)
    ]
    assert 0.0 < max(diffs) < 8.0  # deblocking skipped: blockier (errors build up to the next key frame)


def test_a_camera_password_in_a_stream_url_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    config = SourceConfig(uri="rtsp://admin:s3cret-pw@127.0.0.1:9/Streaming/Channels/101", open_timeout_s=1.0)
    with pytest.raises(SourceError) as error:
        _read_all(config.model_copy(update={"reconnect": False}), limit_s=15.0)
    assert "s3cret-pw" not in str(error.value) and "admin:***@127.0.0.1" in str(error.value)
    assert "s3cret-pw" not in caplog.text


def _damaged_video(folder: Path, start: float, end: float) -> Path:
    """A 40-frame H.264 file (distinct noise frames) whose bytes from ``start`` to ``end`` (shares) are zeroed."""
    from yingyan.video import VideoWriter

    path = folder / "damaged.mp4"
    rng = np.random.default_rng(3)
    with VideoWriter(path, 160, 120, fps=10) as writer:
        for _ in range(40):
            writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    data = bytearray(path.read_bytes())
    data[int(len(data) * start) : int(len(data) * end)] = bytes(int(len(data) * end) - int(len(data) * start))
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_stretch_of_a_file_is_passed_over_and_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _damaged_video(tmp_path, 0.5, 0.51)
    frames, reader = _read_all(SourceConfig(uri=str(path)))
    assert 35 <= len(frames) < 40 and reader.health().state is StreamState.ENDED
    said = [r.getMessage() for r in caplog.records]
    assert any("damaged parts passed over" in m and "damaged.mp4" in m for m in said), said


def test_a_file_of_which_little_decodes_is_an_error_not_a_short_run(tmp_path: Path) -> None:
    path = _damaged_video(tmp_path, 0.15, 0.9)
    with pytest.raises(SourceError, match=r"damaged\.mp4: (only \d+ of its 40 frames|decoding failed)"):
        _read_all(SourceConfig(uri=str(path)))
