"""Errors that reach the user: each names what is wrong and where."""

from __future__ import annotations


class YingyanError(Exception):
    """Base class of every error Yingyan reports to a user (CLI exit code 2)."""


class ConfigError(YingyanError):
    """A configuration or scenario file is missing, unreadable or invalid.

    The message names the file and, for invalid values, the path of each bad field
    (for example ``incidents.0.lane``).
    """


class SimulationError(YingyanError):
    """The traffic simulation could not be built or run."""


class SourceError(YingyanError):
    """A video source cannot be opened or read (missing, corrupt, unreachable); the message names it."""
