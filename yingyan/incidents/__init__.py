"""Incidents: event detectors per camera (and, later, the incident engine over the network)."""

from yingyan.incidents.detector import CameraEvents
from yingyan.incidents.events import Event, EventType
from yingyan.incidents.rules import EventRules

__all__ = ["CameraEvents", "Event", "EventRules", "EventType"]
