"""Generated blocks inside hand-written Markdown: ``<!-- docs:NAME ARGS -->…<!-- /docs -->``.

A study's README (or a page of the site) marks where a generated table goes. On GitHub the
comment is invisible and the text between the two comments (a link to the file the numbers
come from) is shown; a block starts at the beginning of a line (so a marker quoted in running
text is not one); the site replaces the whole block with the fragment that ``NAME`` renders
from the shipped results, so a number on a page cannot drift from its JSON. An unknown ``NAME``
or a block that is never closed is an error, not a silently missing table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from deltatheory.errors import DeltaTheoryError

__all__ = ["BLOCK", "expand", "blocks"]

#: ``<!-- docs:NAME ARGS -->`` FALLBACK ``<!-- /docs -->`` (ARGS and FALLBACK may be empty)
BLOCK = re.compile(r"^<!-- docs:(?P<name>[\w-]+)(?P<args>[^>]*?)-->(?P<fallback>.*?)<!-- /docs -->",
                   re.DOTALL | re.MULTILINE)
_OPEN = re.compile(r"^<!-- docs:([\w-]+)", re.MULTILINE)


def blocks(text: str) -> list[tuple[str, str, str]]:
    r"""Every generated block of ``text`` as (name, args, fallback).

    >>> blocks("a\n<!-- docs:arms --> see results.md <!-- /docs --> b `<!-- docs:x -->`")
    [('arms', '', ' see results.md ')]
    """
    found = [(m["name"], m["args"].strip(), m["fallback"]) for m in BLOCK.finditer(text)]
    if len(found) != len(_OPEN.findall(text)):
        raise DeltaTheoryError("a '<!-- docs:NAME -->' block is not closed by '<!-- /docs -->'")
    return found


def expand(text: str, renderers: Mapping[str, Callable[[str], str]], *, where: str) -> str:
    r"""``text`` with every block replaced by ``renderers[name](args)``.

    >>> expand("x\n<!-- docs:n 2 -->old<!-- /docs --> y", {"n": lambda a: str(2 * int(a))},
    ...        where="demo")
    'x\n4 y'
    """
    blocks(text)  # raises on an unclosed block

    def one(m: re.Match) -> str:
        name = m["name"]
        if name not in renderers:
            raise DeltaTheoryError(f"{where}: unknown generated block 'docs:{name}' (known: "
                                   f"{', '.join(sorted(renderers))})")
        return renderers[name](m["args"].strip())

    return BLOCK.sub(one, text)
