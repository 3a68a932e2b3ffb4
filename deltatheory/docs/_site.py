"""What the MkDocs hooks (``docs/hooks.py``) add to the hand-written pages of ``docs/``.

One build, in order:

1. :func:`generated_files` — the pages and files that are made, not written: one page per
   study folder (its README with the generated tables, the files it links to, its
   configuration), the executed notebooks, the figures the pages show, one API page per
   module.
2. :func:`expand_page` — the generated blocks of every page (``<!-- docs:NAME -->``: the
   headline table, the CLI reference, live command output, figures).
3. :func:`polish_html` — the notebooks' solution cells folded, as they are in Jupyter.

The API pages' docstrings pass through :mod:`deltatheory.docs._griffe` (doctest examples as
code blocks, Sphinx roles as code).
"""

from __future__ import annotations

import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

from . import _checks
from ._cache import cached
from ._markers import blocks, expand
from ._notebooks import execute_notebook
from ._reference import API_MODULES, cli_reference, command_output
from ._studies import Study, find_studies, headline_table, progress, renderers

__all__ = ["generated_files", "expand_page", "polish_html", "fill_nav", "write_files",
           "source_view", "study_site_path", "shown_figures", "figure_files", "FIGURES_DIR"]

#: where the figures drawn for the site go (site-relative)
FIGURES_DIR = "assets/figures"

# a Markdown link or image: [text](target "title")
_LINK = re.compile(r"(?P<bang>!?)\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\((?P<target>[^)\s]+)"
                   r"(?P<title>\s+\"[^\"]*\")?\)")


# --------------------------------------------------------------------------- study pages
def study_site_path(repo_rel: str) -> str | None:
    """The site path of a repository path that a study page may link to, or ``None`` for a
    path the site does not carry (it is then shown as text).

    >>> study_site_path("experiments/results/ladder/README.md")
    'studies/ladder/index.md'
    >>> study_site_path("experiments/results/ladder/ladder.png")
    'studies/ladder/ladder.png'
    >>> study_site_path("experiments/separation.yaml")
    'studies/configs/separation.yaml'
    >>> study_site_path("docs/theory.md"), study_site_path("llm/train.py")
    ('theory.md', None)
    """
    parts = repo_rel.split("/")
    if parts[:2] == ["experiments", "results"] and len(parts) >= 3:
        if len(parts) == 3 or parts[3:] == ["README.md"]:
            return f"studies/{parts[2]}/index.md"
        return "/".join(["studies", *parts[2:]])
    if len(parts) == 2 and parts[0] == "experiments" and parts[1].endswith(".yaml"):
        return f"studies/configs/{parts[1]}"
    if len(parts) == 2 and parts[0] == "docs" and parts[1].endswith(".md"):
        return parts[1]
    if repo_rel == "README.md":
        return "index.md"
    return None


@dataclass
class _Pages:
    root: Path
    files: dict[str, str | bytes | Path] = field(default_factory=dict)  # site path → content

    def relink(self, text: str, repo_rel: str, site_rel: str) -> str:
        """Links of the Markdown at ``repo_rel`` rewritten for its site path ``site_rel``; every
        study file it links to is carried (Markdown ones as pages, relinked in turn)."""
        def one(m: re.Match) -> str:
            target = m["target"]
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
                return m[0]
            path, _, frag = target.partition("#")
            dest_repo = posixpath.normpath(posixpath.join(posixpath.dirname(repo_rel), path))
            full = self.root / dest_repo
            if dest_repo.startswith("..") or not full.exists():
                raise DeltaTheoryError(f"{repo_rel}: the link '{target}' points to nothing in "
                                       "the repository")
            site = study_site_path(dest_repo)
            if site is None or (full.is_dir() and not site.endswith("index.md")):
                if m["bang"]:
                    raise DeltaTheoryError(f"{repo_rel}: the image '{target}' is not a file "
                                           "of a study folder")
                return f"{m['text']} (in the repository: `{dest_repo}`)"
            if full.is_file():
                self.carry(dest_repo, site)
            new = posixpath.relpath(site, posixpath.dirname(site_rel)) + (
                f"#{frag}" if frag else "")
            return f"{m['bang']}[{m['text']}]({new}{m['title'] or ''})"

        return _LINK.sub(one, text)

    def carry(self, repo_rel: str, site: str) -> None:
        if site in self.files:
            return
        path = self.root / repo_rel
        if site.endswith(".md") and not site.endswith("index.md"):  # a study's own README
            # is its page (made by study_page); any other Markdown, a nested README included,
            # is carried with its links rewritten
            self.files[site] = ""  # placeholder against cycles
            self.files[site] = self.relink(path.read_text(encoding="utf-8"), repo_rel, site)
        elif not site.endswith("index.md"):
            self.files[site] = path.resolve()


def _boxed(render):
    """A generated table in a ``dt-table`` box (numbers do not wrap; see extra.css)."""
    return lambda args: f'<div class="dt-table" markdown>\n\n{render(args)}\n</div>\n'


def study_page(study: Study, pages: _Pages) -> str:
    """One study's page: its README with the generated tables, its links carried onto the
    site, and its configuration."""
    repo_rel = study.folder.relative_to(pages.root).as_posix() + "/README.md"
    site_rel = f"studies/{study.name}/index.md"
    text = expand(study.readme, {k: _boxed(f) for k, f in renderers(study).items()},
                  where=repo_rel)
    text = pages.relink(text, repo_rel, site_rel)
    cfg = study.config_yaml
    if cfg is not None:
        pages.carry(f"experiments/{cfg.name}", f"studies/configs/{cfg.name}")
        body = "\n".join("        " + line if line else "" for line in
                         cfg.read_text(encoding="utf-8").splitlines())
        resolved = (" The configuration the run resolved and ran with, defaults included, is "
                    "[`config.json`](config.json)."
                    if (study.folder / "config.json").is_file() else "")
        if resolved:
            pages.carry(f"{study.folder.relative_to(pages.root).as_posix()}/config.json",
                        f"studies/{study.name}/config.json")
        text += (f"\n## Configuration\n\nThe study's input, `experiments/{cfg.name}` "
                 f"([download](../configs/{cfg.name})).{resolved}\n\n"
                 f'??? note "experiments/{cfg.name}"\n\n    ```yaml\n{body}\n    ```\n')
    folder = study.folder.relative_to(pages.root).as_posix()
    text += (f"\n---\n\n*This page is built from the folder `{folder}/`: its README, with the "
             "tables generated from the results shipped there.*\n")
    return text


def studies_table(root: Path, rel) -> str:
    def plain(text: str) -> str:  # a README's own links are relative to its folder: drop them
        return _LINK.sub(lambda m: m["text"], text).replace("|", "\\|")

    lines = ["| study | question | status |", "|---|---|---|"]
    for s in find_studies(root):
        lines.append(f"| [{s.title}]({rel(f'studies/{s.name}/index.md')}) | "
                     f"{plain(s.paragraph('Question'))} | {plain(s.paragraph('Status'))} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- all generated
def generated_files(root: Path, *, fast: bool = True) -> dict[str, str | bytes | Path]:
    """Every generated page and file of the site: site path → Markdown text, bytes, or a
    repository file to copy."""
    pages = _Pages(root)
    for s in find_studies(root):
        pages.files[f"studies/{s.name}/index.md"] = study_page(s, pages)
    for nb in sorted((root / "notebooks").glob("[0-9]*.ipynb")):
        if not nb.stem.endswith("_executed"):
            pages.files[f"tutorials/{nb.name}"] = execute_notebook(nb, fast=fast)
    for section, modules in API_MODULES.items():
        for mod in modules:
            pages.files[f"api/{mod}.md"] = (f"# `{mod}`\n\n*{section}.*\n\n::: {mod}\n")
    pages.files.update(figure_files(root, fast=fast))
    return pages.files


#: an image of a drawn figure on a hand-written page (``assets/figures/NAME.png``)
_FIGURE_IMAGE = re.compile(rf"{FIGURES_DIR}/(\w+)\.png")


def shown_figures(root: Path) -> list[str]:
    """The figures the hand-written pages of ``docs/`` show: those named by a
    ``<!-- docs:figure NAME -->`` block or an image ``assets/figures/NAME.png``, in the order of
    :data:`deltatheory.figures.FIGURES`. A name that is no figure is an error."""
    from deltatheory import figures

    names: set[str] = set()
    for page in sorted((root / "docs").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        names.update(args.split()[0] for name, args, _ in blocks(text)
                     if name == "figure" and args)
        names.update(_FIGURE_IMAGE.findall(text))
    unknown = sorted(names - set(figures.FIGURES))
    if unknown:
        raise DeltaTheoryError(f"docs/ shows the figure(s) {', '.join(unknown)}, which are not "
                               f"among {', '.join(figures.FIGURES)}")
    return [name for name in figures.FIGURES if name in names]


def figure_files(root: Path, *, fast: bool = True) -> dict[str, bytes]:
    """The figures the pages show (:func:`shown_figures`; no other), drawn by their own scripts
    (``--quick`` settings unless ``fast`` is false), as ``assets/figures/NAME.png``; figures 8
    and 9 plot the shipped studies."""
    import tempfile

    from deltatheory import figures
    from deltatheory.figures._common import make

    def draw(name: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="deltatheory-figures-") as tmp:
            make(figures.load(name), Path(tmp), quick=fast, seed=0)
            return (Path(tmp) / f"{name}.png").read_bytes()

    return {f"{FIGURES_DIR}/{name}.png": cached(f"figure-{name}", b"quick" if fast else b"full",
                                                lambda name=name: draw(name))
            for name in shown_figures(root)}


# --------------------------------------------------------------------------- every page
def expand_page(markdown: str, src_uri: str, root: Path) -> str:
    """The generated blocks of a hand-written page (``src_uri`` its path in the site)."""
    def rel(target: str) -> str:
        return posixpath.relpath(target, posixpath.dirname(src_uri) or ".")

    studies = {s.name: s for s in find_studies(root)}

    def headline(args: str) -> str:
        def link(where):
            return rel("checks.md" if where == "checks" else f"studies/{where}/index.md")
        table = headline_table(root, link)
        if "separation" in studies:
            done, total = progress(studies["separation"])
            table = table.replace("; running |", f"; running: {done} of {total} arms finished |")
        return table

    def figure(args: str) -> str:
        name, _, caption = args.partition(" ")
        return f"![{name}]({rel(f'{FIGURES_DIR}/{name}.png')}){{ loading=lazy }}\n\n{caption}\n"

    def study(args: str) -> str:
        name, _, block = args.partition(" ")
        block, _, rest = block.partition(" ")
        if name not in studies:
            raise DeltaTheoryError(f"{src_uri}: no study folder '{name}'")
        return renderers(studies[name])[block](rest)

    return expand(markdown, {
        "headline": headline, "cli": lambda a: cli_reference(), "command": command_output,
        "figure": figure, "studies": lambda a: studies_table(root, rel), "study": study,
        "checks": lambda a: _checks.render(root, a),
    }, where=f"docs/{src_uri}")


def polish_html(html: str, src_uri: str) -> str:
    """A notebook page gets a download link for its executed copy (mkdocs-jupyter puts the
    ``.ipynb`` beside the page) and its solution cells folded under "Solution", as in Jupyter."""
    if not src_uri.endswith(".ipynb"):
        return html
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for cell in soup.select("div.celltag_solution"):
        if cell.find_parent("div", class_="celltag_solution") is not None:
            continue  # nbconvert nests a second div with the same classes
        details = soup.new_tag("details", attrs={"class": "example solution"})
        summary = soup.new_tag("summary")
        summary.string = "Solution"
        cell.wrap(details)
        details.insert(0, summary)
    name = posixpath.basename(src_uri)
    link = BeautifulSoup(f'<p class="dt-download"><a href="{name}" download>Download this '
                         "notebook</a>, executed when this site was built; the original, "
                         f"without outputs, is <code>notebooks/{name}</code>.</p>",
                         "html.parser")
    title = soup.find("h1")
    if title is not None:
        title.insert_after(link)
    else:
        soup.insert(0, link)
    return str(soup)


def write_files(files: dict[str, str | bytes | Path], folder: Path) -> None:
    """Write the generated files under ``folder`` (the build's staging folder)."""
    for rel_path, content in files.items():
        dest = folder / rel_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, dest)
        elif isinstance(content, bytes):
            dest.write_bytes(content)
        else:
            dest.write_text(content, encoding="utf-8")


def fill_nav(nav: list, root: Path) -> None:
    """Add the generated pages to the navigation, after the hand-written index page of their
    section: ``tutorials/index.md`` (the notebooks), ``studies/index.md`` (one page per study),
    ``api/index.md`` (one page per module)."""
    import nbformat

    notebooks = [p for p in sorted((root / "notebooks").glob("[0-9]*.ipynb"))
                 if not p.stem.endswith("_executed")]
    entries = {
        "tutorials/index.md": [
            {nbformat.read(p, as_version=4).metadata.get("title", p.stem): f"tutorials/{p.name}"}
            for p in notebooks],
        "studies/index.md": [{s.title: f"studies/{s.name}/index.md"}
                             for s in find_studies(root)],
        "api/index.md": [{mod: f"api/{mod}.md"} for mods in API_MODULES.values()
                         for mod in mods],
    }

    def walk(items: list) -> None:
        for item in list(items):
            if isinstance(item, str) and item in entries:
                items.extend(entries.pop(item))
            elif isinstance(item, dict):
                for value in item.values():
                    if isinstance(value, list):
                        walk(value)

    walk(nav)
    if entries:
        raise DeltaTheoryError(f"mkdocs.yml's nav has no place for {', '.join(entries)}")


def source_view(root: Path, folder: Path) -> None:
    """The installed package layout, as symbolic links under ``folder``, for the API pages.

    The repository maps ``llm/`` onto ``deltatheory.llm`` and ``figures/`` onto
    ``deltatheory.figures`` (``[tool.setuptools.package-dir]``); mkdocstrings reads sources
    statically, so it is pointed at ``folder/deltatheory``, where those folders sit where the
    import names put them.
    """
    import tomllib

    mapping = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-dir"]
    for name, src in sorted(mapping.items(), key=lambda kv: kv[0].count(".")):
        dest = folder.joinpath(*name.split("."))
        if "." not in name:
            dest.mkdir(parents=True, exist_ok=True)
            for child in (root / src).iterdir():
                if child.name != "__pycache__" and not (dest / child.name).exists():
                    (dest / child.name).symlink_to(child.resolve())
        else:
            if dest.is_symlink() or dest.exists():
                dest.unlink()
            dest.symlink_to((root / src).resolve(), target_is_directory=True)
