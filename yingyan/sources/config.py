"""Configuration of one video source."""

from __future__ import annotations

import re

from pydantic import Field

from yingyan.config import StrictModel

LIVE_SCHEMES: tuple[str, ...] = (
    "rtsp://",
    "rtsps://",
    "rtmp://",
    "rtmps://",
    "http://",
    "https://",
    "udp://",
    "srt://",
)


class SourceConfig(StrictModel):
    """Where frames come from and how they are paced."""

    uri: str = Field(
        title="Source", description="Video file path, folder of images, or stream URL (rtsp://, rtmp://, http(s)://)."
    )
    fps: float | None = Field(
        default=None,
        title="Analysis rate (fps)",
        description=(
            "Frames per second handed to analysis; frames in between are dropped by stream time. Default: every frame."
        ),
        gt=0,
        le=120,
    )
    live: bool | None = Field(
        default=None,
        title="Live",
        description=(
            "Live streams drop frames when analysis falls behind and reconnect when lost; "
            "files wait for analysis. Default: live for URLs."
        ),
    )
    reconnect: bool | None = Field(
        default=None,
        title="Reconnect",
        description="Reconnect a lost or stalled source, for ever, with backoff. Default: on for live streams.",
    )
    queue_size: int = Field(
        default=16,
        title="Queue size",
        description="Decoded frames waiting for analysis at most (memory bound).",
        ge=1,
        le=1024,
    )
    open_timeout_s: float = Field(
        default=10.0,
        title="Open/read timeout (s)",
        description="A stream that neither opens nor sends data for this long counts as lost.",
        gt=0,
        le=300,
    )
    backoff_initial_s: float = Field(
        default=0.5,
        title="First retry delay (s)",
        description="Delay before the first reconnect attempt; doubles per failure.",
        gt=0,
        le=60,
    )
    backoff_max_s: float = Field(
        default=30.0, title="Longest retry delay (s)", description="Upper bound of the reconnect delay.", gt=0, le=600
    )
    fast_decode: bool = Field(
        default=False,
        title="Fast decoding",
        description=(
            "Skip the H.264/H.265 deblocking filter while decoding: about a quarter less decoding time, "
            "blockier frames (on a real clip up to 5 grey levels off on average, before the next key frame). "
            "For servers that carry many cameras."
        ),
    )
    pace: float | None = Field(
        default=None,
        title="Pace (× real time)",
        description=(
            "Play a file or image folder as a camera would send it: at this multiple of real time "
            "(1: real time). Default: as fast as analysis goes. Live streams set their own pace."
        ),
        gt=0,
        le=1000,
    )
    image_fps: float = Field(
        default=10.0,
        title="Image folder rate (fps)",
        description="Frame spacing of an image folder, whose files carry no timestamps.",
        gt=0,
        le=120,
    )

    @property
    def shown(self) -> str:
        """The URI as logs and errors show it: a password in it (rtsp://user:password@host) hidden."""
        return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", self.uri, flags=re.IGNORECASE)

    @property
    def is_live(self) -> bool:
        """Whether the source is treated as live."""
        return self.live if self.live is not None else self.uri.lower().startswith(LIVE_SCHEMES)

    @property
    def reconnects(self) -> bool:
        """Whether a lost source is reopened."""
        return self.reconnect if self.reconnect is not None else self.is_live
