"""Deterministic, model-free scoring of answers against eval/questions.jsonl.

An answerable question is right when its answer contains the gold key phrases (after SQuAD-style
normalisation) and did not decline; an unanswerable one is right when the answer declined.
`run_eval` asks every question through any `ask_fn(question, history) -> Answer` and returns the
per-question rows plus a summary of flat metric dicts, overall and per kind.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rag.errors import BadInputError
from rag.schema import Answer

__all__ = [
    "KINDS",
    "EvalQuestion",
    "load_questions",
    "normalize_answer",
    "contains_answer",
    "token_f1",
    "best_f1",
    "is_abstention",
    "score",
    "run_eval",
    "summarize",
    "format_summary",
]

KINDS = (
    "fact",
    "multi_article",
    "paraphrase",
    "lowercase_misspelt",
    "time",
    "followup",
    "unanswerable_out_of_domain",
    "unanswerable_near_miss",
    "unanswerable_injection",
)
MATCHES = ("any", "all")
ROLES = ("user", "assistant")

_REQUIRED = ("id", "question", "answers", "sources", "kind")
_OPTIONAL = ("match", "history", "note")

# Typographic characters the SQuAD script would keep as parts of words. En dashes and other hyphens
# become "-" so "2023–2024" and "Russia–Ukraine" normalise like their ASCII spellings; em dashes
# separate clauses ("mediation—keen"), so they become a space rather than gluing two words.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-",
        "\u2014": " ", "\u2015": " ",
    }
)
# "1 000" with a no-break or thin space is a thousands separator; NFKD would turn it into an
# ordinary space and split the number, so join the digits first. "1,000" needs nothing: SQuAD's
# punctuation removal already makes it "1000".
_THOUSANDS_SPACE = re.compile(r"(?<=\d)[\u00a0\u2009\u202f](?=\d{3}\b)")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)
# "[1]", "[1, 3]", "[2-4]": citation markers glued to a word ("prisoners[1]") would otherwise
# normalise into a new token ("prisoners1") and hide the key phrase.
_CITATION_MARKER = re.compile(r"\[\d+(?:\s*[,\-\u2013]\s*\d+)*\]")


@dataclass
class EvalQuestion:
    id: str
    question: str
    answers: list[str]  # gold key phrases; [] for unanswerable questions
    sources: list[str]  # seed file names holding the answer; [] for unanswerable questions
    kind: str  # one of KINDS
    match: str = "any"  # "all" when every phrase in `answers` is required
    history: list[dict] = field(default_factory=list)  # earlier turns: {"role", "content"}
    note: str | None = None

    @property
    def answerable(self) -> bool:
        return not self.kind.startswith("unanswerable")


def normalize_answer(s: str) -> str:
    """SQuAD v1.1's normalisation (lower-case, drop punctuation and a/an/the, fold whitespace),
    after folding accents, typographic quotes and dashes, and spaced thousands separators."""
    s = _THOUSANDS_SPACE.sub("", s)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))  # "Erdoğan" -> "Erdogan"
    s = s.translate(_TYPOGRAPHY).lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def contains_answer(text: str, answers: list[str], match: str = "any") -> bool:
    """Whether the normalised text holds any (or all) of the normalised answers as whole words."""
    if match not in MATCHES:
        raise BadInputError(f"match must be one of {MATCHES}, not {match!r}")
    if not answers:
        return False
    # Padding with spaces makes this a whole-token match: "1000" must not be found in "10000".
    haystack = f" {normalize_answer(text)} "
    found = [f" {normalize_answer(a)} " in haystack for a in answers]
    return all(found) if match == "all" else any(found)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token-overlap F1 between two strings."""
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_f1(text: str, answers: list[str]) -> float:
    return max((token_f1(text, a) for a in answers), default=0.0)


def is_abstention(answer: Answer) -> bool:
    # The pipeline decides when it declines; scoring trusts that flag instead of guessing from
    # phrases like "the articles do not say", which a partly right answer may also contain.
    return answer.abstained


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read and check a questions file: one JSON object a line, blank lines ignored."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read questions file {path}: {exc}") from None
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{where}: not valid JSON ({exc.msg})") from None
        question = _parse_question(row, where)
        if question.id in seen:
            raise BadInputError(f"{where}: duplicate id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    return questions


def _parse_question(row, where: str) -> EvalQuestion:
    if not isinstance(row, dict):
        raise BadInputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [k for k in _REQUIRED if k not in row]
    if missing:
        raise BadInputError(f"{where}: missing field(s) {missing}; required: {list(_REQUIRED)}")
    unknown = sorted(set(row) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:  # most likely a misspelt field, which would otherwise be silently ignored
        raise BadInputError(f"{where}: unknown field(s) {unknown}; valid: {list(_REQUIRED + _OPTIONAL)}")
    for key in ("id", "question", "kind"):
        if not isinstance(row[key], str) or not row[key].strip():
            raise BadInputError(f"{where}: {key} must be a non-empty string")
    for key in ("answers", "sources"):
        if not isinstance(row[key], list) or not all(isinstance(v, str) for v in row[key]):
            raise BadInputError(f"{where}: {key} must be a list of strings")
    if row["kind"] not in KINDS:
        raise BadInputError(f"{where}: unknown kind {row['kind']!r}; valid: {list(KINDS)}")
    match = row.get("match", "any")
    if match not in MATCHES:
        raise BadInputError(f"{where}: match must be one of {list(MATCHES)}, not {match!r}")
    history = row.get("history", [])
    if not isinstance(history, list) or not all(
        isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str) for m in history
    ):
        raise BadInputError(f"{where}: history must be a list of {{'role': 'user'|'assistant', 'content': str}}")
    note = row.get("note")
    if note is not None and not isinstance(note, str):
        raise BadInputError(f"{where}: note must be a string")

    question = EvalQuestion(
        id=row["id"], question=row["question"], answers=row["answers"], sources=row["sources"],
        kind=row["kind"], match=match, history=history, note=note,
    )
    if question.answerable and not (question.answers and question.sources):
        raise BadInputError(f"{where}: a {question.kind!r} question needs answers and sources")
    if not question.answerable and (question.answers or question.sources):
        raise BadInputError(f"{where}: a {question.kind!r} question must have empty answers and sources")
    if question.kind == "followup" and not question.history:
        raise BadInputError(f"{where}: a 'followup' question needs the earlier turns in history")
    empty = [a for a in question.answers if not normalize_answer(a)]
    if empty:  # e.g. "the" or "-": would be found in every text
        raise BadInputError(f"{where}: answers {empty} are empty once normalised")
    return question


def score(question: EvalQuestion, answer: Answer) -> dict:
    """One flat row per question: what was asked, what came back, and whether it was right."""
    text = _CITATION_MARKER.sub(" ", answer.text)
    abstained = is_abstention(answer)
    cited = list(dict.fromkeys(c.source for c in answer.citations))
    if question.answerable:
        correct = contains_answer(text, question.answers, question.match) and not abstained
        f1 = best_f1(text, question.answers)
        gold_cited = any(s in question.sources for s in cited)
    else:
        correct, f1, gold_cited = abstained, None, None
    return {
        "id": question.id,
        "kind": question.kind,
        "question": question.question,
        "answer": answer.text,
        "answerable": question.answerable,
        "abstained": abstained,
        "correct": correct,
        "f1": f1,
        "cited_sources": cited,
        "gold_source_cited": gold_cited,
        "retrieval_s": answer.timings.retrieval,
        "first_token_s": answer.timings.first_token,
        "total_s": answer.timings.total,
    }


def run_eval(
    questions: list[EvalQuestion],
    ask_fn: Callable[[str, list[dict]], Answer],
    progress: bool = True,
) -> dict:
    """Ask each question (with its history) through `ask_fn`; return {"rows", "summary"}."""
    from tqdm import tqdm

    rows = []
    for question in tqdm(questions, desc="eval", unit="q", disable=not progress):
        answer = ask_fn(question.question, [dict(m) for m in question.history])
        rows.append(score(question, answer))
    return {"rows": rows, "summary": summarize(rows)}


def summarize(rows: list[dict]) -> dict:
    """{"overall": metrics, "by_kind": {kind: metrics}}, kinds in KINDS order."""
    kinds = [k for k in KINDS if any(r["kind"] == k for r in rows)]
    return {
        "overall": _metrics(rows),
        "by_kind": {k: _metrics([r for r in rows if r["kind"] == k]) for k in kinds},
    }


def _metrics(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    totals = [r["total_s"] for r in rows if r["total_s"] is not None]
    first_tokens = [r["first_token_s"] for r in rows if r["first_token_s"] is not None]
    return {
        "count": len(rows),
        "accuracy": _share(rows, "correct"),
        "answerable_accuracy": _share(answerable, "correct"),
        "abstention": _share(unanswerable, "abstained"),  # unanswerable correctly declined
        "false_abstention": _share(answerable, "abstained"),  # answerable wrongly declined
        "source_cited": _share(answerable, "gold_source_cited"),
        "mean_f1": sum(r["f1"] for r in answerable) / len(answerable) if answerable else None,
        "total_median_s": _percentile(totals, 0.5),
        "total_p90_s": _percentile(totals, 0.9),
        "first_token_median_s": _percentile(first_tokens, 0.5),
        "first_token_p90_s": _percentile(first_tokens, 0.9),
    }


def _share(rows: list[dict], key: str) -> float | None:
    # None, not 0.0, when nothing was measured: a kind without unanswerable questions has no
    # abstention rate, and printing 0% would read as a failure.
    return sum(bool(r[key]) for r in rows) / len(rows) if rows else None


def _percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), so q=0.5 is the median."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


_COLUMNS = (  # (header, metric key, format)
    ("n", "count", "d"),
    ("acc", "accuracy", "%"),
    ("ans_acc", "answerable_accuracy", "%"),
    ("abstain", "abstention", "%"),
    ("false_abst", "false_abstention", "%"),
    ("cited", "source_cited", "%"),
    ("f1", "mean_f1", ".2f"),
    ("t_med", "total_median_s", "s"),
    ("t_p90", "total_p90_s", "s"),
    ("ttft_med", "first_token_median_s", "s"),
    ("ttft_p90", "first_token_p90_s", "s"),
)


def format_summary(summary: dict) -> str:
    """A plain-text table: one line per kind, then overall. '-' marks a metric that does not apply."""
    lines = [("kind",) + tuple(h for h, _, _ in _COLUMNS)]
    for name, metrics in [*summary["by_kind"].items(), ("overall", summary["overall"])]:
        lines.append((name,) + tuple(_cell(metrics[key], fmt) for _, key, fmt in _COLUMNS))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _cell(value, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "%":
        return f"{value:.0%}"
    if fmt == "s":
        return f"{value:.1f}s"
    return format(value, fmt)
