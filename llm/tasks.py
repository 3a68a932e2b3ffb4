"""Built-in tasks: deterministic prompts with train and held-out splits, and their utilities.

* ``bold-sections`` — prompts that invite a structured answer; utility = the number of markdown
  bold section headers (a line that starts with ``**…**``); :func:`answer_with_sections` writes an
  answer with exactly k sections (the paper's warm-up data).
* ``arithmetic`` — "What is a + b?" with ground truth; the last integer in an answer is parsed and
  scored 1 (correct) or 0: a binary verifiable task. Its graded *utility* (what ranks answers
  into pairs and weighs them) is the closeness 1 − min(|error|, 10)/10: 1 when right, 0.9 when
  off by one, 0 when off by 10 or more or when there is no number.

Every task has ``score`` (the evaluation metric of one answer) and ``utility`` (how good an
answer is for building pairs: the same as ``score`` unless the task says otherwise);
``correct`` is ``score`` for binary tasks (OLMo 3's Dolci filter keeps chosen-correct,
rejected-wrong pairs by it).
* ``arithmetic-multiturn`` — ``arithmetic`` items (its own draws) where every odd row's question
  follows a worked exchange: multi-turn chat prompts for half of the data (OLMo 3's Dolci mix).
* ``arithmetic-choice`` — the binary task of the bridge: "What is a + b?" with two candidate
  answers ``"a + b = c"``, one right and one off by 1, 2 or 10, in random order. A model's label
  is the candidate it gives the higher log-probability (:func:`llm.choice.choose`); the truth is
  1 when the first candidate is right. Labels are balanced by construction. Its utility is
  arithmetic's closeness (so pairs of candidates have a graded gap of 0.1, 0.2 or 1.0).
* ``addition-choice`` — ``arithmetic-choice`` with disjoint splits of ordered questions (the
  shipped ladder's task; b + a can be in training when a + b is held out).
* ``addition-choice-v2`` (alias ``arithmetic-choice-v2``) — splits disjoint up to
  commutation, no repeats: the version new studies should use. The first versions stay as they
  were, for the shipped results (:func:`split_overlap` measures what they share).
* ``jsonl:PATH`` — user prompts, one JSON object per line with ``prompt`` (a string or a list of
  chat messages) and optionally ``id`` and ``answer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deltatheory._io import read_jsonl
from deltatheory.errors import DeltaTheoryError

__all__ = ["TASKS", "Task", "get_task", "count_bold_sections", "answer_with_sections",
           "parse_last_int", "split_overlap"]

_SECTION_WORDS = ["Start small", "Plan ahead", "Stay consistent", "Track progress",
                  "Ask for help", "Keep it simple", "Review often", "Rest well", "Be patient",
                  "Celebrate wins", "Learn from mistakes", "Set a routine"]
_BOLD_HEADER = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#+\s*)?\*\*[^*\n]+\*\*", re.MULTILINE)
_INT = re.compile(r"-?\d+")


def count_bold_sections(text: str) -> int:
    """Number of lines that start with a markdown bold header.

    >>> count_bold_sections("**Plan**\\nText.\\n\\n1. **Rest** more\\nNot **this** one")
    2
    """
    return len(_BOLD_HEADER.findall(text))


def answer_with_sections(topic: str, k: int, rng: np.random.Generator) -> str:
    """A plain answer about ``topic`` with exactly ``k`` bold section headers.

    >>> a = answer_with_sections("sleep", 3, np.random.default_rng(0))
    >>> count_bold_sections(a)
    3
    """
    words = rng.choice(len(_SECTION_WORDS), size=k, replace=False)
    parts = [f"Here are a few ideas for {topic}."]
    for i in words:
        w = _SECTION_WORDS[i]
        parts.append(f"**{w}**\n{w} makes {topic} easier: pick one step and repeat it daily.")
    return "\n\n".join(parts)


def parse_last_int(text: str) -> int | None:
    """The last integer in ``text`` (None if there is none).

    >>> parse_last_int("17 + 25 = 42.")
    42
    """
    found = _INT.findall(text.replace(",", ""))
    return int(found[-1]) if found else None


@dataclass(frozen=True)
class Task:
    name: str
    binary: bool
    about: str
    choice: bool = False  # a model's answer is the candidate it gives the higher log-prob

    def prompts(self, split: str, n: int, seed: int = 0) -> list[dict]:
        """``n`` rows {id, prompt (chat messages), …} of ``split`` ('train', 'validation' or
        'test'; bold-sections splits never share a topic; the others are drawn from separate
        random streams)."""
        if split not in ("train", "validation", "test"):
            raise DeltaTheoryError(f"split={split!r} is not one of train, validation, test")
        if n < 1:
            raise DeltaTheoryError(f"number of prompts {n} must be at least 1")
        return self._prompts(split, n, seed)

    def score(self, row: dict, answer: str) -> float:
        raise NotImplementedError

    def utility(self, row: dict, answer: str) -> float:
        """How good ``answer`` is for ranking pairs (default: its score)."""
        return self.score(row, answer)

    def _prompts(self, split, n, seed):  # pragma: no cover - overridden
        raise NotImplementedError


class BoldSections(Task):
    def __init__(self):
        super().__init__("bold-sections", False, "structured answers; utility = bold headers")

    def _prompts(self, split, n, seed):
        # topics are split three ways: train, validation and test never share a topic
        from .sections import split_prompts

        return split_prompts(split, n, seed)

    def score(self, row, answer):
        return float(count_bold_sections(answer))


class Arithmetic(Task):
    def __init__(self):
        super().__init__("arithmetic", True, "two-digit addition; 1 if the last integer is right")

    def _prompts(self, split, n, seed):
        rng = np.random.default_rng([seed, {"train": 2, "test": 3, "validation": 9}[split]])
        rows = []
        for i in range(n):
            a, b = (int(x) for x in rng.integers(10, 100, size=2))
            rows.append({"id": f"{split}-{i}", "answer": a + b,
                         "prompt": [{"role": "user", "content": f"What is {a}+{b}?"}]})
        return rows

    def score(self, row, answer):
        return float(parse_last_int(answer) == row["answer"])

    def utility(self, row, answer):
        """Closeness to the right sum: 1 − min(|error|, 10)/10.

        >>> t, row = Arithmetic(), {"answer": 42}
        >>> [t.utility(row, a) for a in ("= 42", "= 41", "= 90", "no number")]
        [1.0, 0.9, 0.0, 0.0]
        """
        got = parse_last_int(answer)
        if got is None:
            return 0.0
        return round(1.0 - min(abs(got - row["answer"]), 10) / 10.0, 10)


class ArithmeticMultiturn(Arithmetic):
    """``arithmetic`` with multi-turn prompts for half of the rows: every odd row starts with a
    worked exchange ("What is c+d?" / "c + d = e.") before its own question."""

    def __init__(self):
        Task.__init__(self, "arithmetic-multiturn", True,
                      "two-digit addition; odd rows follow a worked exchange (multi-turn)")

    def _prompts(self, split, n, seed):
        rng = np.random.default_rng([seed, {"train": 6, "test": 7, "validation": 10}[split]])
        rows = []
        for i in range(n):
            a, b, c, d = (int(x) for x in rng.integers(10, 100, size=4))
            msgs = [{"role": "user", "content": f"What is {a}+{b}?"}]
            if i % 2:
                msgs = [{"role": "user", "content": f"What is {c}+{d}?"},
                        {"role": "assistant", "content": f"{c} + {d} = {c + d}."}] + msgs
            rows.append({"id": f"{split}-{i}", "answer": a + b, "prompt": msgs})
        return rows


class JsonlPrompts(Task):
    def __init__(self, path: str):
        super().__init__(f"jsonl:{path}", False, "user prompts from a JSONL file")
        p = Path(path)
        if not p.is_file():
            raise DeltaTheoryError(f"prompt file {path!r} does not exist")
        self._rows = []
        for ln, obj in read_jsonl(p):
            if "prompt" not in obj:
                raise DeltaTheoryError(f"{path}:{ln} has no 'prompt' column")
            msgs = obj["prompt"]
            if isinstance(msgs, str):
                msgs = [{"role": "user", "content": msgs}]
            self._rows.append({"id": str(obj.get("id", ln)), "prompt": msgs,
                               **({"answer": obj["answer"]} if "answer" in obj else {})})

    def _prompts(self, split, n, seed):
        if split == "validation":
            raise DeltaTheoryError(f"task {self.name} has no validation split (its file is "
                                   "halved into train and test)")
        rows = self._rows[: len(self._rows) // 2] if split == "train" else self._rows[
            len(self._rows) // 2:]
        return rows[:n]

    def score(self, row, answer):
        if "answer" not in row:
            raise DeltaTheoryError(f"task {self.name} has no 'answer' to score against")
        return float(parse_last_int(answer) == int(row["answer"]))


class ArithmeticChoice(Task):
    def __init__(self):
        super().__init__("arithmetic-choice", True,
                         "binary: which of two answers to a + b is right (log-prob choice)",
                         choice=True)

    def _prompts(self, split, n, seed):
        rng = np.random.default_rng([seed, {"train": 4, "test": 5, "validation": 11}[split]])
        rows = []
        for i in range(n):
            a, b = (int(x) for x in rng.integers(10, 100, size=2))
            rows.append(self._row(f"{split}-{i}", a, b, rng))
        return rows

    @staticmethod
    def _row(item_id: str, a: int, b: int, rng: np.random.Generator) -> dict:
        """One item: a + b with a wrong candidate off by 1, 2 or 10, in random order."""
        wrong = a + b + int(rng.choice([-1, 1])) * int(rng.choice([1, 2, 10]))
        truth = int(rng.integers(2))
        first, second = (a + b, wrong) if truth else (wrong, a + b)
        return {"id": item_id, "answer": a + b, "truth": truth,
                "candidates": [f"{a} + {b} = {first}", f"{a} + {b} = {second}"],
                "prompt": [{"role": "user", "content": f"What is {a} + {b}?"}]}

    def score(self, row, answer):
        return float(parse_last_int(answer) == row["answer"])

    def utility(self, row, answer):
        """Closeness to the right sum, as for ``arithmetic``."""
        return Arithmetic.utility(self, row, answer)


class AdditionChoice(ArithmeticChoice):
    """``arithmetic-choice`` with disjoint splits (the ladder's task): every (a, b) belongs to
    exactly one split (60 % train, 30 % test, 10 % validation, by a fixed shuffle of all 8,100
    two-digit pairs), and a split's items are drawn without replacement, so no question is
    asked twice or seen in training and again in testing."""

    _SHARE = {"train": (0.0, 0.6), "test": (0.6, 0.9), "validation": (0.9, 1.0)}

    def __init__(self):
        Task.__init__(self, "addition-choice", True,
                      "binary: which of two answers to a + b is right (log-prob choice); "
                      "train, validation and test never share a question", choice=True)

    def _prompts(self, split, n, seed):
        pool = np.random.default_rng(12345).permutation(90 * 90)  # fixed: the same for all seeds
        lo, hi = (int(f * len(pool)) for f in self._SHARE[split])
        mine = pool[lo:hi]
        if n > len(mine):
            raise DeltaTheoryError(f"the addition-choice {split} split has {len(mine)} questions; "
                                   f"asked for {n}")
        rng = np.random.default_rng([seed, {"train": 12, "test": 13, "validation": 14}[split]])
        return [self._row(f"{split}-{i}", 10 + int(code) // 90, 10 + int(code) % 90, rng)
                for i, code in enumerate(rng.permutation(mine)[:n])]


class AdditionChoiceV2(ArithmeticChoice):
    """The choice tasks' second version: splits disjoint up to commutation. Every unordered
    question {a, b} belongs to exactly one split (40 % train, 50 % test, 10 % validation, by a
    fixed shuffle of all 4,095 unordered two-digit pairs), a split's items are drawn without
    replacement, and each item's order (a + b or b + a) is a coin flip: no question, nor its
    mirror, is asked twice, or in training and again in testing. The first versions
    (``arithmetic-choice``: independent draws per split; ``addition-choice``: disjoint ordered
    pairs, so b + a can be in training when a + b is held out) stay as they were, for the
    shipped results they produced."""

    _SHARE = {"train": (0.0, 0.4), "test": (0.4, 0.9), "validation": (0.9, 1.0)}
    _STREAM = {"train": 15, "test": 16, "validation": 17}

    def __init__(self, name: str = "addition-choice-v2"):
        Task.__init__(self, name, True,
                      "binary: which of two answers to a + b is right (log-prob choice); "
                      "splits disjoint up to commutation (version 2)", choice=True)

    @staticmethod
    def pool() -> np.ndarray:
        """Every unordered question (a, b), a ≤ b, in the fixed order the splits cut."""
        pairs = np.array([(a, b) for a in range(10, 100) for b in range(a, 100)])
        return pairs[np.random.default_rng(54321).permutation(len(pairs))]

    def _prompts(self, split, n, seed):
        pool = self.pool()
        lo, hi = (int(f * len(pool)) for f in self._SHARE[split])
        mine = pool[lo:hi]
        if n > len(mine):
            raise DeltaTheoryError(f"the {self.name} {split} split has {len(mine)} questions; "
                                   f"asked for {n}")
        rng = np.random.default_rng([seed, self._STREAM[split]])
        rows = []
        for i, k in enumerate(rng.permutation(len(mine))[:n]):
            a, b = (int(v) for v in mine[k])
            if rng.integers(2):
                a, b = b, a
            rows.append(self._row(f"{split}-{i}", a, b, rng))
        return rows


def split_overlap(task: Task, sizes: dict[str, int], seed: int = 0) -> dict:
    """How a choice task's splits share questions: per held-out split, the items whose question
    (a, b) is also in ``train``, those whose mirror (b, a) is (and not itself), and the items
    repeating an earlier item of the split, verbatim or mirrored.

    >>> o = split_overlap(get_task("arithmetic-choice"), {"train": 600, "test": 1000})["test"]
    >>> o["same_as_train"], o["either_in_train"], o["repeated"]
    (79, 134, 46)
    >>> o = split_overlap(get_task("addition-choice-v2"), {"train": 1000, "test": 2000})["test"]
    >>> o["either_in_train"], o["repeated"], o["mirror_repeated"]
    (0, 0, 0)
    """
    def q(r):
        a, b = (int(x) for x in re.findall(r"\d+", r["prompt"][-1]["content"])[:2])
        return a, b

    rows = {s: task.prompts(s, n, seed) for s, n in sizes.items()}
    train = {q(r) for r in rows.get("train", [])}
    out = {}
    for s, rs in rows.items():
        if s == "train":
            continue
        qs = [q(r) for r in rs]
        same = [i for i, (a, b) in enumerate(qs) if (a, b) in train]
        mirror = [i for i, (a, b) in enumerate(qs) if (b, a) in train and (a, b) not in train]
        seen: set = set()
        repeated = mirrored = 0
        for a, b in qs:
            repeated += (a, b) in seen
            mirrored += (b, a) in seen and (a, b) not in seen
            seen.add((a, b))
        out[s] = {"n": len(qs), "same_as_train": len(same), "mirror_in_train": len(mirror),
                  "either_in_train": len(same) + len(mirror), "repeated": repeated,
                  "mirror_repeated": mirrored,
                  "overlapping_ids": [rs[i]["id"] for i in sorted(same + mirror)]}
    return out


TASKS = {"bold-sections": BoldSections, "arithmetic": Arithmetic,
         "arithmetic-multiturn": ArithmeticMultiturn, "arithmetic-choice": ArithmeticChoice,
         "addition-choice": AdditionChoice, "addition-choice-v2": AdditionChoiceV2,
         "arithmetic-choice-v2": lambda: AdditionChoiceV2("arithmetic-choice-v2")}


def get_task(name: str) -> Task:
    if name.startswith("jsonl:"):
        return JsonlPrompts(name[len("jsonl:"):])
    if name not in TASKS:
        raise DeltaTheoryError(f"task {name!r} is not one of {', '.join(TASKS)}, jsonl:PATH")
    return TASKS[name]()
