"""H.264 writing: what the simulator's cameras write, with a bitrate cap as a real camera has."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from yingyan.video import VideoWriter


def _noisy_frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    road = np.full((240, 320, 3), 90, np.uint8)
    return [np.clip(road + rng.normal(0, 6, road.shape), 0, 255).astype(np.uint8) for _ in range(count)]


def test_a_capped_stream_keeps_to_its_bitrate_where_sensor_noise_would_spend_many_times_more(tmp_path: Path) -> None:
    frames = _noisy_frames(25)  # 5 s at 5 fps
    for name, cap in (("free", None), ("capped", 100)):
        with VideoWriter(tmp_path / f"{name}.mp4", 320, 240, fps=5, crf=23, preset="superfast", maxrate_kbps=cap) as w:
            for frame in frames:
                w.write(frame)
    free, capped = ((tmp_path / f"{n}.mp4").stat().st_size * 8 / 5 / 1000 for n in ("free", "capped"))  # kbit/s
    # At most the cap over the 5 s plus what the VBV buffer (twice the cap) lends, and a little container.
    assert capped <= (100 * 5 + 200) / 5 * 1.05, capped
    assert free >= 3 * capped, (free, capped)  # uncapped, x264 spends its bits on the noise
    with av.open(str(tmp_path / "capped.mp4")) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(decoded) == 25 and decoded[0].shape == (240, 320, 3)
