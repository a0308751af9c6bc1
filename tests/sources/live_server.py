"""A real local HTTP server that plays an MPEG-TS file out at its own pace, like a camera's live stream."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_ts(path: Path, seconds: float = 8.0, fps: int = 10, size: tuple[int, int] = (160, 96)) -> Path:
    """An H.264 MPEG-TS clip of a square moving across a grey road, with a keyframe every second."""
    w, h = size
    with av.open(str(path), mode="w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": str(fps), "preset": "ultrafast", "tune": "zerolatency"}
        for k in range(int(seconds * fps)):
            img = np.full((h, w, 3), 90, np.uint8)
            x = (k * 3) % (w - 20)
            img[40:60, x : x + 20] = 230
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = k
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class LiveStreamServer:
    """Serves ``data`` at ``bytes_per_s``; ``stop()`` kills it mid-stream, ``start()`` brings it back."""

    def __init__(self, data: bytes, port: int, bytes_per_s: float) -> None:
        self.data, self.port, self.rate = data, port, bytes_per_s
        self._server: ThreadingHTTPServer | None = None
        self._alive = threading.Event()

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.end_headers()
                chunk = 188 * 20
                started = time.monotonic()
                for offset in range(0, len(owner.data), chunk):
                    if not owner._alive.is_set():
                        return
                    due = started + offset / owner.rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    try:
                        self.wfile.write(owner.data[offset : offset + chunk])
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._alive.set()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._alive.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.ts"
