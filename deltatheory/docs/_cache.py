"""An opt-in cache of the slow generated files (executed notebooks, figures) across builds.

Set ``DELTATHEORY_DOCS_CACHE=DIR`` to keep them between builds (e.g. while editing pages with
``deltatheory docs --serve``). An entry is keyed by its inputs and by the source of the whole
package (core, ``llm``, ``figures``, the shipped data; not this generator), so a change of
code makes it again.
Unset (the tests, CI): everything is made fresh.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

__all__ = ["cached"]


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    import deltatheory
    from deltatheory import figures, llm

    h = hashlib.sha256()
    for pkg in (deltatheory, llm, figures):
        base = Path(pkg.__file__).parent
        for path in sorted(base.rglob("*")):
            if (path.is_file() and path.suffix in {".py", ".json", ".csv", ".yaml"}
                    and "docs" not in path.relative_to(base).parts[:1]):  # not the generator
                h.update(path.relative_to(base).as_posix().encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def cached(kind: str, inputs: bytes, make: Callable[[], bytes]) -> bytes:
    """``make()``, or its stored result for the same ``kind``, ``inputs`` and package source
    when ``DELTATHEORY_DOCS_CACHE`` names a folder."""
    folder = os.environ.get("DELTATHEORY_DOCS_CACHE")
    if not folder:
        return make()
    key = hashlib.sha256(kind.encode() + b"\0" + inputs + _code_fingerprint().encode())
    path = Path(folder) / f"{kind}-{key.hexdigest()[:20]}"
    if path.is_file():
        return path.read_bytes()
    data = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data
