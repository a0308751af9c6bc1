"""Sources: video files, streams and image folders turned into timed frames, with health."""

from yingyan.sources.config import SourceConfig
from yingyan.sources.frame import Frame, SourceHealth, StreamState
from yingyan.sources.reader import FrameReader

__all__ = ["Frame", "FrameReader", "SourceConfig", "SourceHealth", "StreamState"]
