"""COCO class ids the perception stage keeps: vehicles, and people for the pedestrian rule."""

from __future__ import annotations

PERSON, BICYCLE, CAR, MOTORCYCLE, BUS, TRUCK = 0, 1, 2, 3, 5, 7

CLASS_NAMES: dict[int, str] = {
    PERSON: "person",
    BICYCLE: "bicycle",
    CAR: "car",
    MOTORCYCLE: "motorcycle",
    BUS: "bus",
    TRUCK: "truck",
}
VEHICLES: tuple[int, ...] = (CAR, MOTORCYCLE, BUS, TRUCK)
DEFAULT_CLASSES: tuple[int, ...] = (PERSON, BICYCLE, CAR, MOTORCYCLE, BUS, TRUCK)
