"""Bold-section answers for the paper's warm-up (§2): prompts, and answers with exactly k bold
section headers built from a model's own answer.

The paper's pairs hold, for one prompt, answers with 2, 3 and 9 bold sections. We build them
from the student's own greedy answer to the prompt, so chosen and rejected read like what the
model itself writes: :func:`plain_units` strips the answer's formatting (bold, list numbers,
headings) into an introduction and a list of items (the model's own item titles kept aside), and
:func:`sectioned` regroups the same sentences, in the same order, into ``k`` sections, each
opened by a bold header line (the model's own item title where the section starts at a titled
item, else a few words of the section's first sentence). Two answers with k = 2 and k = 3 thus
share every sentence and differ in how many sections carry a bold header; two k = 3 answers
made with different random streams differ in where the sections start (the tied control).

Counting (the issue on what a "section" is): :func:`count_bold_header_lines` (stand-alone bold
header lines) and :func:`count_bold_lead_ins` (lines that open with bold and go on) split, line
for line, what ``tasks.count_bold_sections`` counts; :func:`count_heading_lines` counts markdown
``#`` headings; :func:`section_count_report` (and ``python -m deltatheory.llm.sections --report
FOLDER``) applies all of them to the answers a shipped results folder saved.

Prompts: :data:`TOPICS` × :data:`FRAMES`; the topics are split three ways (train, validation,
test) so no topic is shared between splits (1,296 training prompts).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["TOPICS", "FRAMES", "SPLIT_TOPICS", "split_prompts", "plain_units", "sectioned",
           "count_bold_header_lines", "count_bold_lead_ins", "count_heading_lines",
           "read_samples", "section_count_report", "report_markdown"]

TOPICS = [
    # validation (16)
    "repairing a bicycle puncture", "choosing a first houseplant", "writing a cover letter",
    "learning to swim as an adult", "packing for a camping trip", "baking bread at home",
    "keeping a home office tidy", "starting a book club", "planning a birthday party",
    "improving handwriting", "learning to touch type", "keeping cut flowers fresh",
    "choosing running shoes", "cooking rice well", "getting into birdwatching",
    "setting up a home aquarium",
    # test (16)
    "training for a 5 km race", "decluttering a wardrobe", "learning to play guitar",
    "brewing good coffee at home", "keeping a car in good shape",
    "teaching a child to ride a bike", "running an effective meeting", "backing up personal files",
    "cutting down on sugar", "photographing with a phone", "preparing for a long flight",
    "negotiating a salary", "learning to draw", "making a podcast", "looking after a cat",
    "reading more books",
    # train (108)
    "staying productive when working from home", "learning a new language as an adult",
    "keeping houseplants alive", "preparing for a job interview", "saving money on groceries",
    "getting better sleep", "starting to run", "organising a small kitchen",
    "planning a weekend hiking trip", "writing a clear email", "reducing screen time",
    "hosting a dinner party", "studying for an exam", "caring for a new puppy",
    "learning to cook", "moving to a new city", "making a budget", "starting a vegetable garden",
    "giving a short presentation", "travelling on a budget", "keeping a journal",
    "choosing a laptop", "staying focused while reading", "making friends in a new place",
    "learning to meditate", "painting a room", "buying a used car", "starting a small business",
    "writing a short story", "learning to code", "eating more vegetables",
    "managing stress at work", "preparing a picnic", "teaching a dog new tricks",
    "fixing a leaking tap", "keeping a fish tank clean", "building a morning routine",
    "learning to knit", "planning a road trip", "cleaning a bathroom quickly",
    "staying warm in winter", "cooling a house in summer", "choosing a gym",
    "starting to lift weights", "doing yoga at home", "learning basic first aid",
    "making homemade pizza", "growing herbs indoors", "composting kitchen waste",
    "saving for retirement", "paying off a credit card", "applying for a mortgage",
    "renting a first flat", "sharing a flat with friends", "writing a personal budget app",
    "keeping passwords safe", "speeding up an old computer", "setting up a home network",
    "taking better notes in class", "learning history for fun", "memorising a speech",
    "preparing for a driving test", "riding a motorbike safely", "cycling to work",
    "reducing household energy use", "recycling at home", "shopping second hand",
    "mending clothes", "ironing a shirt", "packing a suitcase", "getting over jet lag",
    "visiting a museum with children", "planning a family holiday",
    "keeping children busy on rainy days",
    "helping a teenager with homework", "talking to a shy child", "caring for an elderly parent",
    "volunteering in the community", "organising a charity run", "writing a wedding speech",
    "choosing a gift for a friend", "apologising to a friend", "dealing with a difficult coworker",
    "asking for a pay rise", "changing careers", "working night shifts",
    "learning to sing", "recording music at home", "learning to dance",
    "starting to paint with watercolours", "making a scrapbook", "learning chess",
    "solving crossword puzzles", "playing tennis", "learning to ski", "climbing indoors",
    "going on a first date", "keeping a long-distance friendship", "planning a small wedding",
    "cooking for one person", "meal prepping for the week", "making soup from leftovers",
    "drinking more water", "quitting coffee", "improving posture at a desk",
    "looking after your eyes", "taking care of your skin in winter", "dressing for an interview",
]
FRAMES = [
    "Give me some tips on {t}.", "What should I know about {t}?",
    "How do I get started with {t}?", "Can you help me with {t}?",
    "What are good ways of {t}?", "I would like some advice on {t}.",
    "What are the most important things about {t}?", "Explain how to approach {t}.",
    "What mistakes should I avoid when {t}?", "Write a short guide to {t}.",
    "What is the best way to go about {t}?", "I am struggling with {t}. Any suggestions?",
]
SPLIT_TOPICS = {"validation": TOPICS[:16], "test": TOPICS[16:32], "train": TOPICS[32:]}
_SPLIT_KEY = {"train": 0, "test": 1, "validation": 8}


def split_prompts(split: str, n: int, seed: int) -> list[dict]:
    """``n`` distinct (topic, frame) prompts of ``split``, in a seeded random order."""
    from deltatheory.errors import DeltaTheoryError

    topics = SPLIT_TOPICS[split]
    combos = [(t, f) for t in topics for f in FRAMES]
    if n > len(combos):
        raise DeltaTheoryError(f"the bold-sections {split} split has {len(combos)} prompts; "
                               f"asked for {n}")
    order = np.random.default_rng([seed, _SPLIT_KEY[split]]).permutation(len(combos))[:n]
    return [{"id": f"{split}-{i}", "topic": combos[j][0],
             "prompt": [{"role": "user", "content": combos[j][1].format(t=combos[j][0])}]}
            for i, j in enumerate(order)]


_LIST = re.compile(r"^\s*(?:[-*+•]\s+|\d+[.)]\s+|#+\s*)")
_TITLE = re.compile(r"^\*\*([^*\n]+?)\*\*\s*[:.\-–]?\s*")
_COLON_TITLE = re.compile(r"^([A-Z][^:.!?*\n]{1,48}):\s+(?=\S)")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_STOP = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "your", "you",
         "it", "is", "are", "be", "can", "will", "this", "that", "at", "by", "as", "if", "so"}


def _unmark(text: str) -> str:
    """``text`` without bold markup, removed until none is left (``*__*x*__*`` included)."""
    while True:
        out = re.sub(r"\*{2,}|_{2,}", "", text)
        if out == text:
            return out
        text = out


def _complete(text: str) -> str:
    """``text`` without a trailing unfinished sentence (a greedy answer cut at its token
    budget), unless nothing would be left."""
    t = text.rstrip()
    if not t or t[-1] in ".!?:)\"'":
        return t
    cut = max(t.rfind(". "), t.rfind("! "), t.rfind("? "), t.rfind(".\n"), t.rfind("\n"))
    return t[: cut + 1].rstrip() if cut > 0 else t


def plain_units(answer: str) -> tuple[list[str], list[tuple[str | None, list[str]]]]:
    """An answer without its formatting: (introduction sentences, items), each item a pair
    (the model's own bold title or None, its sentences).

    >>> intro, items = plain_units("Some ideas:\\n\\n1. **Plan**: Write it down. Then act.\\n"
    ...                            "2. **Rest**: Sleep well.")
    >>> intro, items
    (['Some ideas:'], [('Plan', ['Write it down.', 'Then act.']), ('Rest', ['Sleep well.'])])
    """
    intro: list[str] = []
    items: list[tuple[str | None, list[str]]] = []
    for raw in _complete(answer).split("\n"):
        line = raw.strip()
        if not line:
            continue
        listed = bool(_LIST.match(line))
        line = _LIST.sub("", line)
        m = _TITLE.match(line) or (_COLON_TITLE.match(line) if listed else None)
        title = m.group(1).strip().rstrip(":") if m else None
        body = line[m.end():] if m else line
        body = _unmark(body).strip()
        sents = [s.strip() for s in _SENT.split(body) if re.search(r"[A-Za-z]", s)]
        if title is not None and not sents:  # a header line on its own: it opens an item
            items.append((title, []))
        elif title is not None or listed:
            items.append((title, sents))
        elif items and not items[-1][1]:  # the body of a header line above
            items[-1] = (items[-1][0], sents)
        elif items:
            items.append((None, sents))
        else:
            intro += sents
    items = [(t, s) for t, s in items if s]
    if not items and len(intro) > 1:  # prose only: its first sentence introduces the rest
        items = [(None, [s]) for s in intro[1:]]
        intro = intro[:1]
    return intro, items


def _header(sentence: str) -> str:
    """A short header from a sentence: its first few words, without trailing small words."""
    words = re.findall(r"[A-Za-z0-9'’-]+", sentence)[:4]
    while len(words) > 1 and words[-1].lower() in _STOP:
        words.pop()
    text = " ".join(words) or "Note"
    return text[0].upper() + text[1:]


def _split_clauses(items, k: int):
    """Items whose longest sentences are split at a comma or semicolon (both halves at least
    three words) until there are ``k`` sentences, or no sentence can be split."""
    items = [(t, list(ss)) for t, ss in items]
    while sum(len(ss) for _, ss in items) < k:
        best = None
        for i, (_, ss) in enumerate(items):
            for j, s in enumerate(ss):
                cuts = [m.end() for m in re.finditer(r"[,;]\s", s)
                        if len(s[:m.start()].split()) >= 3 and len(s[m.end():].split()) >= 3]
                if cuts and (best is None or len(s) > best[0]):
                    mid = min(cuts, key=lambda c: abs(c - len(s) / 2))
                    best = (len(s), i, j, mid)
        if best is None:
            break
        _, i, j, mid = best
        s = items[i][1][j]
        items[i][1][j:j + 1] = [s[:mid].rstrip(), s[mid:].strip()]
    return items


def sectioned(answer: str, k: int, rng: np.random.Generator) -> str | None:
    """``answer``'s sentences, in order, regrouped into exactly ``k`` sections, each opened by a
    bold header line (see the module docstring); None when the answer has fewer than ``k``
    sentences after its introduction. Section starts fall on the answer's own item boundaries
    where there are enough of them, else on sentence boundaries; ``rng`` picks which.

    >>> from deltatheory.llm.tasks import count_bold_sections
    >>> a = "Ideas:\\n\\n1. **Plan**: Write it. Act.\\n2. **Rest**: Sleep. Eat.\\n3. Walk daily."
    >>> print(sectioned(a, 2, np.random.default_rng(0)))
    Ideas:
    <BLANKLINE>
    **Plan**
    Write it. Act. Rest: Sleep. Eat.
    <BLANKLINE>
    **Walk daily**
    Walk daily.
    >>> count_bold_sections(sectioned(a, 3, np.random.default_rng(0)))
    3
    """
    if k < 1:
        raise ValueError(f"k={k} must be at least 1")
    intro, items = plain_units(answer)
    items = _split_clauses(items, k)
    sents = [s for _, ss in items for s in ss]
    if len(sents) < k:
        return None
    titles = {}
    item_starts = []
    pos = 0
    for t, ss in items:
        item_starts.append(pos)
        if t:
            titles[pos] = t
        pos += len(ss)
    cands = item_starts[1:] if len(items) >= k else list(range(1, len(sents)))
    starts = [0] + sorted(int(c) for c in rng.choice(cands, size=k - 1, replace=False))
    ends = starts[1:] + [len(sents)]
    parts = [" ".join(intro)] if intro else []
    for s, e in zip(starts, ends, strict=True):
        head = titles.get(s) or _header(sents[s])
        body = [f"{titles[i]}: {sents[i]}" if i in titles and i != s else sents[i]
                for i in range(s, e)]  # an item title that opens no section stays inline
        parts.append(f"**{head}**\n" + " ".join(body))
    return "\n\n".join(parts)


# ---- counting bold sections two ways (issue: header lines vs list lead-ins) ----------------------
#
# A *bold-led line* is what ``tasks.count_bold_sections`` counts (one per line, lines split at
# "\n"): after leading whitespace and at most one marker (a list marker ``-``/``*``/``+`` or
# ``1.``/``1)`` followed by whitespace, or a run of ``#``), the line opens with a bold span
# ``**…**`` that holds no ``*``. Each bold-led line is exactly one of the two kinds below, so for
# every text ``count_bold_header_lines(t) + count_bold_lead_ins(t) == count_bold_sections(t)``.
# Counted by none of the three: bold inside a line (``Not **this**``), an unclosed bold span (an
# answer cut at its token budget), bold holding ``*``, ``__bold__``, and a markdown heading
# without bold (``## Heading``), which only :func:`count_heading_lines` counts.
_BOLD_LED = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#+\s*)?\*\*[^*\n]+\*\*(.*)$")
_HEADING = re.compile(r"^\s*#{1,6}\s+\S")


def _bold_led_rests(text: str) -> list[str]:
    """For each bold-led line of ``text``, what follows its leading bold span."""
    return [m.group(1) for line in text.split("\n") if (m := _BOLD_LED.match(line))]


def _is_header_rest(rest: str) -> bool:
    return rest.strip() in ("", ":")


def count_bold_header_lines(text: str) -> int:
    """Number of stand-alone bold header lines: bold-led lines whose bold span is the line's whole
    content, save an optional colon after it (``**Title**``, ``**Title:**``, ``**Title**:``,
    ``### **Title**``, ``1. **Title**``). ``## Title`` without bold is not one.

    >>> count_bold_header_lines("**Plan**\\nText.\\n**Rest:**\\n### **Eat**:\\n## Walk\\n"
    ...                         "1. **Sleep**: well\\nNot **this**")
    3
    """
    return sum(_is_header_rest(r) for r in _bold_led_rests(text))


def count_bold_lead_ins(text: str) -> int:
    """Number of bold lead-ins: bold-led lines with more on the line after the bold span (and an
    optional colon), e.g. ``1. **Title**: text``, ``- **Note:** text``, ``**Note:** text``.

    >>> count_bold_lead_ins("1. **Plan**: Write it.\\n- **Note:** Rest.\\n**Tip** eat\\n"
    ...                     "**Header**\\nNot **this**")
    3
    """
    return sum(not _is_header_rest(r) for r in _bold_led_rests(text))


def count_heading_lines(text: str) -> int:
    """Number of markdown heading lines: one to six ``#`` then whitespace and some text, bold or
    not (``## Title``, ``### **Title**``); a bare ``#`` is not one.

    >>> count_heading_lines("## Plan\\n### **Rest**\\n#\\n#NoSpace\\n####### Seven")
    2
    """
    return sum(bool(_HEADING.match(line)) for line in text.split("\n"))


_SAMPLE = re.compile(
    r"^## (?P<id>\S+) \(score (?P<score>[^)\n]*)\)\n\n\*\*Prompt:\*\* .*?\n\n```text\n"
    r"(?P<answer>.*?)\n```\n(?=\n## \S+ \(score [^)\n]*\)\n\n\*\*Prompt:\*\* |\Z)",
    re.MULTILINE | re.DOTALL)


def read_samples(path) -> list[dict]:
    """The saved answers of one arm's samples file (as ``experiment._write_samples`` writes it):
    a list of ``{"id", "score", "answer"}``, ``score`` being the score saved beside it."""
    from pathlib import Path

    from deltatheory.errors import BadData

    text = Path(path).read_text()
    rows = [{"id": m["id"], "score": float(m["score"]), "answer": m["answer"]}
            for m in _SAMPLE.finditer(text)]
    if len(rows) != len(re.findall(r"^\*\*Prompt:\*\* ", text, re.MULTILINE)):
        raise BadData(f"{path}: could not read every saved answer (found {len(rows)})")
    return rows


def section_count_report(results_folder) -> dict:
    """Per arm of a shipped results folder, the saved answers (``samples/<arm>.md``) counted four
    ways: the old counter (``count_bold_sections``), stand-alone bold header lines, bold
    lead-ins, markdown heading lines; each arm's ``n`` answers, the mean of each count, the counts
    of every answer, and the old counter's mean over all held-out answers from ``results.json``.

    Arms come in ``results.json``'s order (then any other samples file, by name)."""
    import json
    from pathlib import Path

    from deltatheory.llm.tasks import count_bold_sections

    from deltatheory.errors import DeltaTheoryError

    folder = Path(results_folder)
    if not any((folder / "samples").glob("*.md")):
        raise DeltaTheoryError(f"{results_folder}: no saved answers (samples/<arm>.md) there")
    shipped = {}
    if (folder / "results.json").exists():
        shipped = {a["arm"]: a for a in json.loads((folder / "results.json").read_text())["arms"]}
    files = {p.stem: p for p in sorted((folder / "samples").glob("*.md"))}
    order = [a for a in shipped if a in files] + [a for a in files if a not in shipped]
    counters = {"old_counter": count_bold_sections, "header_lines": count_bold_header_lines,
                "lead_ins": count_bold_lead_ins, "heading_lines": count_heading_lines}
    arms = {}
    for arm in order:
        answers = [{"id": r["id"], "saved_score": r["score"],
                    **{k: f(r["answer"]) for k, f in counters.items()}}
                   for r in read_samples(files[arm])]
        n = len(answers)
        arms[arm] = {"n": n, **{f"mean_{k}": (sum(a[k] for a in answers) / n if n else None)
                                for k in counters}}
        if arm in shipped:
            arms[arm].update(all_heldout_n=shipped[arm].get("n_test"),
                             all_heldout_mean_old_counter=shipped[arm].get("metric_mean"))
        arms[arm]["answers"] = answers
    return {"folder": str(results_folder),
            "source": "the answers each arm saved in samples/<arm>.md (the first held-out "
                      "prompts only); the all_heldout_* fields are the old counter over every "
                      "held-out answer, from results.json",
            "definitions": {
                "old_counter": "tasks.count_bold_sections: lines that open with **bold** (after "
                               "at most one list or # marker)",
                "header_lines": "sections.count_bold_header_lines: such lines whose whole "
                                "content is the bold span (an optional colon after it)",
                "lead_ins": "sections.count_bold_lead_ins: such lines with more text after the "
                            "bold span; header_lines + lead_ins == old_counter",
                "heading_lines": "sections.count_heading_lines: markdown # headings with text, "
                                 "bold or not"},
            "arms": arms}


def report_markdown(report: dict) -> str:
    """:func:`section_count_report` as a Markdown table (means per answer)."""
    def f(x):
        return "" if x is None else f"{x:.2f}"

    lines = [f"# Bold sections counted two ways: {report['folder']}", "",
             f"Source: {report['source']}.", "",
             "| arm | saved answers | old counter | stand-alone bold header lines | "
             "bold lead-ins | markdown heading lines | old counter, all held-out (n) |",
             "|---|---|---|---|---|---|---|"]
    for arm, a in report["arms"].items():
        allh = (f"{f(a['all_heldout_mean_old_counter'])} ({a['all_heldout_n']})"
                if a.get("all_heldout_n") else "")
        lines.append(f"| {arm} | {a['n']} | {f(a['mean_old_counter'])} | "
                     f"{f(a['mean_header_lines'])} | {f(a['mean_lead_ins'])} | "
                     f"{f(a['mean_heading_lines'])} | {allh} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m deltatheory.llm.sections --report FOLDER [--json] [--write]``."""
    import argparse
    import json
    from pathlib import Path

    from deltatheory._io import atomic_path, write_json
    from deltatheory.errors import DeltaTheoryError

    ap = argparse.ArgumentParser(prog="python -m deltatheory.llm.sections",
                                 description="Count a results folder's saved answers' bold "
                                             "sections two ways (header lines, lead-ins).")
    ap.add_argument("--report", required=True, metavar="FOLDER",
                    help="a results folder with samples/<arm>.md (and results.json)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--write", action="store_true",
                    help="also write FOLDER/section_counts.json and .md")
    args = ap.parse_args(argv)
    try:
        report = section_count_report(args.report)
    except DeltaTheoryError as exc:
        ap.error(str(exc))
    table = report_markdown(report)
    if args.write:
        write_json(Path(args.report) / "section_counts.json", report)
        with atomic_path(Path(args.report) / "section_counts.md") as tmp:
            tmp.write_text(table)
    print(json.dumps(report, indent=2) if args.json else table.rstrip("\n"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
