"""Run folders: the one home of the open / resume / per-arm plumbing every study uses.

A run folder holds ``config.json`` (the resolved configuration, checked on every resume: a rerun
with another configuration is refused, not mixed in) and ``arms/<name>/``, one folder per arm.
An arm is finished when its ``metrics.json`` exists (written atomically, last); a rerun skips
finished arms and redoes the rest, so a kill loses at most the arm in flight. Everything an arm
caches inside its folder is keyed by what determines it (see :mod:`deltatheory.llm.generate`),
so a redone arm never reuses a piece it did not produce.

Bad data that shows only once an arm runs (a filter that leaves no pairs, weights that are all
zero) raises :class:`~deltatheory.errors.BadData`: the failing arm's folder is removed, and so
is the run folder when this call created it and no arm has finished, so no half-written run is
left behind. Any other exception (a kill, a crash, a full disk, a model that cannot be loaded)
keeps everything for the resume.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from deltatheory._io import ensure_writable, write_json
from deltatheory.errors import BadData, DeltaTheoryError

__all__ = ["Run"]

A = TypeVar("A")
R = TypeVar("R")


class Run:
    """An opened run folder (see the module docstring)."""

    def __init__(self, folder: Path, config: dict, created: bool = False):
        self.folder = folder
        self.config = config
        self.created = created  # this call made the folder

    @classmethod
    def open(cls, out: str | Path, config: dict, models: Iterable[str] = (),
             code_version: str | None = None) -> Run:
        """Create ``out`` with ``config.json``, or reopen it if it holds the same config.

        ``models``: every model spec the run reads. Their identities (content hashes, see
        :func:`deltatheory.llm.generate.model_identity`) are stored with the config, so a
        resume after a model folder changed (``runA/model`` retrained, say) is refused instead
        of mixing arms of the old model with arms of the new one.

        ``code_version``: the study's own version of how it computes an arm (a constant the
        study bumps whenever a change alters any number an arm writes). Stored with the config;
        a resume by other code, or of a folder that recorded none, is refused, so arms computed
        two ways never sit in one run.

        The installed versions of the packages a number depends on
        (:func:`deltatheory._io.versions`) are stored too; a resume under other versions is
        refused for the same reason (a folder that recorded none records them now).
        """
        from deltatheory._io import versions

        from .generate import model_identity

        fresh = not Path(out).exists()
        out = ensure_writable(out)
        path = out / "config.json"
        ids = {m: model_identity(m) for m in dict.fromkeys(models)}
        now = versions()
        if path.exists():
            old = json.loads(path.read_text())
            old.pop("started", None)
            old_versions = old.pop("versions", None)
            old.pop("versions_recorded_at_resume", None)
            old_ids = old.pop("model_identities", None)
            old_version = old.pop("code_version", None)
            if not _same_config(old, json.loads(json.dumps(config))):
                raise DeltaTheoryError(f"{path} holds a different configuration: resume with the "
                                       "same config or use another --out")
            if old_version != code_version:
                raise DeltaTheoryError(f"{out} was started by study code version {old_version!r}, "
                                       f"this is {code_version!r}: its finished arms were computed "
                                       "differently; use another --out")
            if old_versions is not None:  # only what the folder recorded is compared
                moved = [k for k in old_versions if k in now and old_versions[k] != now[k]]
                if moved:
                    k = moved[0]
                    raise DeltaTheoryError(
                        f"{out} was started with {k} {old_versions.get(k)}, this is {now[k]}: "
                        "its finished arms may differ from what these versions compute; install "
                        "the versions it recorded (config.json: versions) or use another --out")
            if old_ids is None or old_versions is None:  # recorded by neither: record now
                full = json.loads(path.read_text())
                stamp = {} if old_versions is not None else {
                    "versions": now, "versions_recorded_at_resume": True}
                write_json(path, {**full, "model_identities": old_ids or ids, **stamp})
                old_ids = old_ids or ids
            changed = [m for m in ids if old_ids.get(m) != ids[m]]
            if changed:
                raise DeltaTheoryError(f"model {changed[0]!r} has changed since {out} was started "
                                       f"({old_ids.get(changed[0])} -> {ids[changed[0]]}): its "
                                       "finished arms are of the old model; use another --out")
        else:
            stamp = {"code_version": code_version} if code_version is not None else {}
            write_json(path, {**config, "model_identities": ids, **stamp, "versions": now,
                              "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
        return cls(out, config, created=fresh)

    def arm_folder(self, name: str) -> Path:
        return self.folder / "arms" / name

    def each(self, arms: Iterable[A], name: Callable[[A], str], work: Callable[[A, Path], dict],
             *, load: Callable[[dict], R] = lambda d: d, progress=print) -> list[R]:
        """For every arm: its metrics from an earlier run, or ``work(arm, folder)`` (timed and
        written to ``metrics.json``). Returns each arm's metrics through ``load``."""
        results = []
        for arm in arms:
            folder = self.arm_folder(name(arm))
            done = folder / "metrics.json"
            if done.exists():
                progress(f"arm {name(arm)}: done earlier, skipped")
                results.append(load(json.loads(done.read_text())))
                continue
            folder.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            try:
                metrics = work(arm, folder)
            except BadData:
                self._discard(folder)
                raise
            metrics["seconds"] = round(time.perf_counter() - t0, 1)
            write_json(done, metrics)
            results.append(load(json.loads(done.read_text())))
        return results

    def _discard(self, arm_folder: Path) -> None:
        """Remove a failed arm's folder, and the run folder if this call made it and no arm
        has finished."""
        arms = (self.folder / "arms").resolve()
        if arm_folder.resolve().parent != arms:  # never anything but one arm's own folder
            return
        shutil.rmtree(arm_folder, ignore_errors=True)
        if self.created and not any((self.folder / "arms").glob("*/metrics.json")):
            shutil.rmtree(self.folder, ignore_errors=True)


def _same_config(old, new) -> bool:
    """Whether a stored configuration is the one given, where a setting added to the code
    since (absent from ``old``) counts as the same when it holds None (its "as before" value,
    e.g. ``train.data_seed``): folders written before it existed still resume.

    >>> _same_config({"a": 1, "t": {"s": 0}}, {"a": 1, "t": {"s": 0, "data_seed": None}})
    True
    >>> _same_config({"a": 1}, {"a": 1, "b": 2})
    False
    """
    if isinstance(old, dict) and isinstance(new, dict):
        extra = set(new) - set(old)
        if set(old) - set(new) or any(new[k] is not None for k in extra):
            return False
        return all(_same_config(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(
            _same_config(a, b) for a, b in zip(old, new, strict=True))
    return old == new
