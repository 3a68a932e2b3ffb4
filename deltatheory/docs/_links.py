"""Every internal link and image of a built site resolves: the file exists and, for a link with
a ``#fragment`` into a page, the page has an element with that id."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["check_site", "page_links"]

_REFS = {"a": "href", "img": "src", "link": "href", "script": "src", "source": "src"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.ids.add(a[key])
        url = a.get(_REFS.get(tag, ""))
        if url is not None:
            self.refs.append((tag, url))


def page_links(html: str) -> tuple[set[str], list[tuple[str, str]]]:
    """The ids of a page and its (tag, url) references.

    >>> page_links('<h2 id="a">A</h2><a href="b.html#c">x</a><img src="f.png">')
    ({'a'}, [('a', 'b.html#c'), ('img', 'f.png')])
    """
    p = _Page()
    p.feed(html)
    return p.ids, p.refs


def _internal(url: str) -> bool:
    s = urlsplit(url)
    return not (s.scheme or s.netloc or url.startswith("//"))


def check_site(site: str | Path) -> list[str]:
    """Every broken internal reference of the built site in ``site``, as ``page: url (why)``;
    an empty list when all resolve. Checked: ``<a href>``, ``<img src>``, ``<link href>``,
    ``<script src>`` and ``<source src>``, with their fragments when they point into a page."""
    site = Path(site).resolve()
    pages = {p: page_links(p.read_text(encoding="utf-8", errors="replace"))
             for p in sorted(site.rglob("*.html"))}
    problems = []
    for page, (_, refs) in pages.items():
        rel = page.relative_to(site)
        for tag, url in refs:
            if not url or not _internal(url):
                continue
            parts = urlsplit(url)
            path, frag = unquote(parts.path), unquote(parts.fragment)
            if not path:
                target = page
            elif path.startswith("/"):  # root-relative (the 404 page): the site served at /
                target = (site / path.lstrip("/")).resolve()
            else:
                target = (page.parent / path).resolve()
            if path and (path.endswith("/") or target.is_dir()):
                target = target / "index.html"
            if site not in target.parents and target != site:
                problems.append(f"{rel}: {url} (outside the site)")
            elif not target.is_file():
                problems.append(f"{rel}: {url} ({'image' if tag == 'img' else 'target'} "
                                "not found)")
            elif frag and target.suffix == ".html" and frag not in pages.get(target, (set(),))[0]:
                problems.append(f"{rel}: {url} (no element with id '{frag}')")
    return problems
