"""Reading JSON files that users hand over or that runs leave behind, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DatasetError, OccposeError


def read_json_object(path: str | Path, missing: str = "file not found",
                     error: type[OccposeError] = DatasetError, fmt: str | None = None) -> dict:
    """Parse a JSON object from ``path``.

    Args:
        missing: what to say after the path when the file does not exist.
        error: the OccposeError subclass to raise.
        fmt: when given, the object's ``format`` field must equal it.
    Raises:
        ``error`` naming the file: missing, unreadable, not JSON, not an object, wrong format.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {missing}")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object")
    if fmt is not None and data.get("format") != fmt:
        raise error(f"{path}: field 'format' is {data.get('format')!r}, expected {fmt!r}")
    return data
