"""File helpers: atomic output (write to a temporary file beside the target, then rename) and
a JSONL reader with one-line errors."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
        os.close(fd)
    except OSError as exc:
        raise DeltaTheoryError(f"output {str(path)!r} cannot be written: {exc.strerror}") from None
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it replaces ``path`` only if the block succeeds.

    The old folder is never deleted before the new one is in place: it is first renamed to
    ``.NAME.old``, then the new folder is renamed onto ``path``, then the old one is removed. A
    crash between the two renames leaves the old folder at ``.NAME.old``; the next
    :func:`atomic_dir` (or :func:`recover_dir`) on ``path`` puts it back.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "model"
    >>> with atomic_dir(target) as tmp:
    ...     _ = (tmp / "config.json").write_text("{}")
    >>> sorted(p.name for p in target.iterdir())
    ['config.json']
    """
    import shutil

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        recover_dir(path)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    except OSError as exc:
        raise DeltaTheoryError(f"output {str(path)!r} cannot be written: {exc.strerror}") from None
    try:
        yield tmp
        if path.exists():
            backup = _backup(path)
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):
            recover_dir(path)  # an error between the renames: the old folder goes back
        raise


def _backup(path: Path) -> Path:
    return path.parent / f".{path.name}.old"


def recover_dir(path: str | os.PathLike) -> Path:
    """Finish what an interrupted :func:`atomic_dir` left: restore or drop ``.NAME.old``."""
    import shutil

    path = Path(path)
    backup = _backup(path)
    if backup.exists():
        if path.exists():  # the new folder made it into place: the old one is stale
            shutil.rmtree(backup, ignore_errors=True)
        else:  # interrupted between the two renames: the old folder is the valid one
            os.replace(backup, path)
    return path


def strict_json(obj):
    """``obj`` made strict-JSON-ready: numpy scalars and arrays to Python, non-finite floats to
    ``None`` with a sibling ``KEY_why`` saying what the value was (JSON has no NaN or Infinity).

    >>> d = strict_json({"x": float("inf"), "y": [1.0, float("nan")], "z": 2})
    >>> d["x"], d["x_why"], d["y"], d["y_why"], d["z"]
    (None, 'not finite: +infinity', [1.0, None], 'null entries are not finite (nan)', 2)
    """
    import math

    import numpy as np

    def plain(v):
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, tuple):
            return list(v)
        return v

    def describe(x: float) -> str:
        return "nan" if math.isnan(x) else ("+infinity" if x > 0 else "-infinity")

    def bad(v) -> bool:
        return isinstance(v, float) and not math.isfinite(v)

    def walk(v):
        """(clean value, description of the non-finite values removed at this level or None)."""
        v = plain(v)
        if bad(v):
            return None, f"not finite: {describe(v)}"
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                clean, why = walk(x)
                out[k] = clean
                key = f"{k}_why"
                if why is not None and key not in v:
                    out[key] = why
            return out, None
        if isinstance(v, list):
            items = [walk(x) for x in v]
            found = sorted({describe(plain(x)) for x in v if bad(plain(x))})
            why = f"null entries are not finite ({', '.join(found)})" if found else None
            return [c for c, _ in items], why
        return v, None

    return walk(obj)[0]


def dumps(payload, **kw) -> str:
    """Strict JSON text of ``payload`` (see :func:`strict_json`); never NaN or Infinity."""
    return json.dumps(strict_json(payload), allow_nan=False, **kw)


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` as strict JSON to ``path`` atomically (nothing half-written is left).

    Non-finite floats become ``null`` with a ``KEY_why`` field (:func:`strict_json`).
    """
    text = dumps(payload, indent=2) + "\n"  # serialise first: a failure leaves no file at all
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_jsonl(path: str | os.PathLike) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of a JSONL file; one-line errors."""
    out = []
    for ln, line in enumerate(read_text(path, "JSONL file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise DeltaTheoryError(f"{path}:{ln} is not valid JSON") from None
        if not isinstance(obj, dict):
            raise DeltaTheoryError(f"{path}:{ln} is not a JSON object")
        out.append((ln, obj))
    return out


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """The text of a UTF-8 file (a leading byte-order mark is dropped), with one-line errors.

    Raises :class:`DeltaTheoryError` naming ``what`` and ``path`` when the file cannot be read,
    is empty (nothing but white space), or is not UTF-8 text: bytes that do not decode, or NUL
    bytes (binary data, or UTF-16 without a byte-order mark).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes("\\ufeffx,y\\n".encode("utf-8"))
    >>> read_text(p, "table")
    'x,y\\n'
    >>> _ = p.write_bytes("x,y\\n".encode("utf-16"))
    >>> read_text(p, "table")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deltatheory.errors.DeltaTheoryError: table '...a.csv' is not UTF-8 text (...)
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DeltaTheoryError(f"{what} {name!r} cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        why = ("it starts with a UTF-16 byte-order mark: save it as UTF-8"
               if data[:2] in (b"\xff\xfe", b"\xfe\xff") else
               f"byte {exc.start} cannot be decoded: binary data or another encoding")
        raise DeltaTheoryError(f"{what} {name!r} is not UTF-8 text ({why})") from None
    if "\x00" in text:
        raise DeltaTheoryError(
            f"{what} {name!r} is not UTF-8 text (it contains NUL bytes: binary data or UTF-16)")
    if not text.strip():
        raise DeltaTheoryError(f"{what} {name!r} is empty")
    return text


#: the distributions whose versions a result records (those a number can depend on)
RECORDED_PACKAGES = ("deltatheory", "numpy", "scipy", "jax", "jaxlib", "torch", "transformers",
                     "trl", "peft", "accelerate", "datasets", "tokenizers", "gguf")


def versions() -> dict[str, str | None]:
    """Python's and every recorded package's installed version (None: not installed), read from
    the installed metadata, so nothing heavy is imported.

    >>> v = versions(); v["python"].count(".") >= 1 and v["numpy"] is not None
    True
    """
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out
