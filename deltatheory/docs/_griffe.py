"""A griffe extension for the API pages: the docstrings' reStructuredText idioms as Markdown.

The docstrings are written for reading in the source and for doctest: ``>>>`` examples with
their output, and Sphinx roles (``:func:`name```). Markdown would read ``>>>`` as nested quotes
and ``[1.0, 0.9]`` in an output line as a link, so each run of example lines becomes a fenced
``pycon`` block, a role becomes plain code, and the star of θ*, λ*, φ* is escaped (Markdown
would read two of them as emphasis).
"""

from __future__ import annotations

import re

__all__ = ["markdown_docstring"]  # and DoctestFences, made on first use (it needs griffe)

_ROLE = re.compile(r":(?:class|func|mod|data|meth|attr|obj|exc|py:\w+):`~?([^`]+)`")
# a star right after a non-ASCII symbol is mathematics (θ*, λ*, φ*), not emphasis
_MATH_STAR = re.compile(r"(?<=[^\x00-\x7f])\*")


def _prose(line: str) -> str:
    """One line of prose: roles as code, mathematical stars escaped outside code spans."""
    parts = re.split(r"(``.+?``|`[^`]+`)", _ROLE.sub(r"`\1`", line))  # odd: code spans
    return "".join(p if i % 2 else _MATH_STAR.sub(r"\\*", p) for i, p in enumerate(parts))


def markdown_docstring(text: str) -> str:
    r"""``text`` with doctest examples fenced and Sphinx roles turned into code.

    >>> markdown_docstring("See :func:`~a.b`.\n\n>>> f(1)\n[1, 2]\n\nDone.").splitlines()
    ['See `a.b`.', '', '```pycon', '>>> f(1)', '[1, 2]', '```', '', 'Done.']
    >>> print(markdown_docstring("at λ* (``λ*``), *not* here"))
    at λ\* (``λ*``), *not* here
    """
    out: list[str] = []
    fence: str | None = None  # the indentation of the open example block
    in_code = False
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_code = not in_code
        if fence is not None and (not stripped or not line.startswith(fence)):
            out.append(f"{fence}```")
            fence = None
        if fence is None and not in_code and stripped.startswith(">>> "):
            fence = line[:len(line) - len(stripped)]
            out.append(f"{fence}```pycon")
        out.append(line if (fence is not None or in_code) else _prose(line))
    if fence is not None:
        out.append(f"{fence}```")
    return "\n".join(out)


def _extension():
    import griffe

    class DoctestFences(griffe.Extension):
        """Applies :func:`markdown_docstring` to every docstring griffe loads."""

        def on_instance(self, *, obj, **kwargs) -> None:
            if obj.docstring is not None:
                obj.docstring.value = markdown_docstring(obj.docstring.value)

    return DoctestFences


def __getattr__(name: str):  # griffe is imported only when the docs are built
    if name == "DoctestFences":
        return _extension()
    raise AttributeError(name)
