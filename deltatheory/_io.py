"""Atomic JSON output: write to a temporary file in the target folder, then rename."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .errors import DeltaTheoryError


def ensure_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and check a file can be written there, before any work."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe."):
            pass
    except OSError as exc:
        raise DeltaTheoryError(
            f"output folder {str(folder)!r} cannot be written: {exc.strerror}") from None
    return folder


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically (nothing half-written is left behind)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise DeltaTheoryError(f"output {str(path)!r} cannot be written: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=2, allow_nan=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
