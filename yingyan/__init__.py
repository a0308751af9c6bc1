"""Yingyan (鹰眼): abnormal congestion, its source, and the closed incident loop over checkpoint cameras."""

__version__ = "0.1.0"
