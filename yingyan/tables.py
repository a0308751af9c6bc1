"""CSV tables as Yingyan writes them: NaN as an empty cell, floats with 3 decimals."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path


def _fmt(value: object) -> object:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return value


def format_row(row: dict[str, object]) -> dict[str, str]:
    """A row as its CSV cells hold it (what a reader of the file gets back)."""
    return {key: str(_fmt(value)) for key, value in row.items()}


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, object]]) -> None:
    """Write dict rows as CSV; NaN becomes an empty cell, floats keep 3 decimals."""
    with CsvTable(path, columns) as table:
        table.write(rows)


class CsvTable:
    """A CSV file written row by row and flushed as it goes, so a stream that runs for days
    (or is stopped with Ctrl-C) keeps every finished row on disk."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._handle = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(self.columns)
        self.rows = 0

    def write(self, rows: Iterable[dict[str, object]]) -> None:
        for row in rows:
            self._writer.writerow([_fmt(row[c]) for c in self.columns])
            self.rows += 1
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> CsvTable:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header, as dictionaries of text."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
