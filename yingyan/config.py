"""Shared configuration machinery: strict pydantic models loaded from YAML.

Every Yingyan configuration model derives from :class:`StrictModel`: unknown keys are errors,
and a failed validation is reported as a :class:`~yingyan.errors.ConfigError` that names the
file and the dotted path of each bad field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from yingyan.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of all configuration models: unknown keys are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def format_validation_error(error: ValidationError, source: str) -> str:
    """Render a pydantic error as one line per bad field, each with its dotted path."""
    lines = [f"{source}: {error.error_count()} invalid field(s)"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        # Cross-field checks name their fields in the message itself.
        lines.append(f"  {where}: {message}" if where else f"  {message}")
    return "\n".join(lines)


def validate_mapping(model: type[ModelT], data: Any, source: str) -> ModelT:
    """Validate already-parsed data against ``model``; errors name ``source`` and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, source)) from None


def load_yaml(path: Path) -> Any:
    """Read a YAML file, turning I/O and syntax problems into a ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {error}") from None


def load_model(model: type[ModelT], path: Path) -> ModelT:
    """Load and validate a YAML file into ``model``."""
    return validate_mapping(model, load_yaml(path), str(path))
