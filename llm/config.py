"""Typed configuration: YAML (or any mapping) onto dataclasses, strictly.

Every study's settings are a dataclass whose field defaults are the only defaults (nanoGPT's
"all defaults visible in one place", TRL's ``DPOConfig``); a YAML file overrides them, nested
dataclasses are merged field by field, and unknown keys are errors naming the key and what is
allowed. The resolved configuration is written next to the results.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

from deltatheory.errors import DeltaTheoryError

__all__ = ["read_yaml", "build", "merge", "to_dict"]

T = TypeVar("T")


def read_yaml(path: str | Path) -> dict:
    """The mapping in a YAML file, with one-line errors (missing, not text, not YAML, not a map)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise DeltaTheoryError(f"config file {str(path)!r} does not exist")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DeltaTheoryError(f"config file {str(path)!r} is not UTF-8 text (byte "
                               f"{exc.object[exc.start]:#04x} at offset {exc.start})") from None
    try:
        user = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DeltaTheoryError(f"config file {str(path)!r} is not valid YAML: "
                               f"{str(exc).splitlines()[0]}") from None
    if user is None:
        return {}
    if not isinstance(user, dict):
        raise DeltaTheoryError(f"config file {str(path)!r} must hold a mapping of settings")
    return user


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value, tp, where: str):
    """Check (and gently coerce: int → float) a YAML value against a field type."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except DeltaTheoryError:
                continue
        raise DeltaTheoryError(f"{where}={value!r} has the wrong type (expected {tp})")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = (" (YAML reads a number like 2e-4 as text: write 2.0e-4)"
                    if isinstance(value, str) else "")
            raise DeltaTheoryError(f"{where}={value!r} is not a number{hint}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DeltaTheoryError(f"{where}={value!r} is not a whole number")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise DeltaTheoryError(f"{where}={value!r} is not true or false")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise DeltaTheoryError(f"{where}={value!r} is not text")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise DeltaTheoryError(f"{where}={value!r} is not a list")
        if not args:
            return value
        return [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise DeltaTheoryError(f"{where}={value!r} is not a mapping")
        return value
    return value


def merge(base: T, over: dict, where: str = "") -> T:
    """``base`` (a dataclass instance) with the fields in ``over`` replaced; nested dataclass
    fields are merged recursively; unknown keys raise one-line errors."""
    if not isinstance(over, dict):
        raise DeltaTheoryError(f"config {where.rstrip('.') or 'root'} must be a mapping, "
                               f"got {over!r}")
    cls = type(base)
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    changes = {}
    for k, v in over.items():
        if k not in names:
            raise DeltaTheoryError(f"config key {where}{k!r} does not exist; known: "
                                   f"{', '.join(names)}")
        cur = getattr(base, k)
        if dataclasses.is_dataclass(cur) and not isinstance(cur, type):
            changes[k] = merge(cur, v if v is not None else {}, f"{where}{k}.")
        else:
            changes[k] = _coerce(v, hints[k], f"{where}{k}")
    try:
        return dataclasses.replace(base, **changes)
    except TypeError as exc:  # pragma: no cover - a field the dataclass refuses to replace
        raise DeltaTheoryError(f"config {where or 'root'}: {exc}") from None


def build(cls: type[T], over: dict | None = None, where: str = "") -> T:
    """``cls()`` with ``over`` merged in (see :func:`merge`)."""
    return merge(cls(), over or {}, where)


def to_dict(cfg) -> dict:
    """The resolved configuration as plain data (written as ``config.json``)."""
    return dataclasses.asdict(cfg)
