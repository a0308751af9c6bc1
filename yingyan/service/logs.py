"""Structured logs: one JSON object per line, with the camera, incident and alert ids a record carries.

>>> import logging
>>> handler = logging.StreamHandler()
>>> handler.setFormatter(JsonFormatter())
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

CONTEXT = ("camera_id", "incident_id", "alert_id", "terminal_id")


class JsonFormatter(logging.Formatter):
    """``{"at", "level", "logger", "message", camera_id…}``; exceptions as their one-line summary and type."""

    def format(self, record: logging.LogRecord) -> str:
        item: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                item[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            item["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            item["trace"] = self.formatException(record.exc_info)
        return json.dumps(item, ensure_ascii=False)
