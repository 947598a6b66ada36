"""The evaluation set: its file format (eval/README.md), the checks that refuse a bad line, and
the choice of a slice (one kind, one split, the first N, or a seeded sample)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import BadInputError
from rag.evaluation.metrics import MATCHES, Span, normalize_answer
from rag.loading import load_article

__all__ = ["KINDS", "SPLITS", "EvalQuestion", "load_questions", "select_questions"]

KINDS = (
    "fact",
    "multi_article",
    "paraphrase",
    "lowercase_misspelt",
    "time",
    "followup",
    "overview",  # "What is the news about Yukos?": any article on the subject answers (eval/news/bbc-open.jsonl)
    "unanswerable_out_of_domain",
    "unanswerable_near_miss",
    "unanswerable_injection",
)
ROLES = ("user", "assistant")
# Rules, thresholds and prompts are chosen by looking at "dev" rows only; "test" rows are reported,
# never tuned on (eval/README.md).
SPLITS = ("dev", "test")

_REQUIRED = ("id", "question", "answers", "sources", "kind", "split")
_OPTIONAL = ("match", "history", "note", "evidence", "also")


@dataclass
class EvalQuestion:
    id: str
    question: str
    answers: list[str]  # gold key phrases; [] for unanswerable questions
    sources: list[str]  # file names holding the answer; [] for unanswerable questions
    kind: str  # one of KINDS (a SQuAD file adds "squad" and "unanswerable_squad")
    match: str = "any"  # "all" when every phrase in `answers` is required
    history: list[dict] = field(default_factory=list)  # earlier turns: {"role", "content"}
    note: str | None = None
    # The sentences of the sources that state the answer: what a citation should point at.
    evidence: list[Span] = field(default_factory=list)
    # Sentences a person accepts as also supporting a right answer, without stating it (precision only).
    also: list[Span] = field(default_factory=list)
    split: str | None = None  # "dev" or "test"; None for sets without a split (SQuAD)

    @property
    def answerable(self) -> bool:
        return not self.kind.startswith("unanswerable")


# --- the question set


def load_questions(path: str | Path, articles: str | Path | None = None) -> list[EvalQuestion]:
    """Read and check a questions file: one JSON object a line, blank lines ignored. Given
    `articles`, the folder of the files the questions ask about, each source must be an article
    of it and each evidence span lie within that article's text."""
    path = Path(path)
    try:
        # Lines end at "\n" only: str.splitlines also splits at U+2028, which JSON allows in a string.
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8
        raise BadInputError(f"cannot read questions file {path}: {type(exc).__name__}: {exc}") from None
    if articles is not None and not Path(articles).is_dir():  # else every source would be "not an article"
        raise BadInputError(f"no folder {articles}: the articles the questions in {path} ask about")
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    lengths: dict[str, int] = {}  # source -> characters of its text, each article read once
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:  # over 4,300 digits, or nested thousands deep
            raise BadInputError(f"{where}: not valid JSON ({type(exc).__name__}: {exc})") from None
        question = _parse_question(row, where)
        if articles is not None:
            _check_in_articles(question, Path(articles), lengths, where)
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
    split = row["split"]
    if split not in SPLITS:
        raise BadInputError(f"{where}: split must be one of {list(SPLITS)}, not {split!r}")

    question = EvalQuestion(
        id=row["id"], question=row["question"], answers=row["answers"], sources=row["sources"],
        kind=row["kind"], match=match, history=history, note=note, split=split,
        evidence=_spans(row.get("evidence", []), "evidence", row["sources"], where),
        also=_spans(row.get("also", []), "also", row["sources"], where),
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
    if not question.answerable and question.evidence:
        raise BadInputError(f"{where}: a {question.kind!r} question has no evidence to point at")
    if question.answerable and not question.evidence:  # its citations could not be graded
        raise BadInputError(f"{where}: a {question.kind!r} question needs evidence: the sentences that state "
                            "its answer")
    return question


def _check_in_articles(question: EvalQuestion, folder: Path, lengths: dict[str, int], where: str) -> None:
    """Each source an article of `folder`, each span within its text: a span past the end overlaps
    no citation, so the question's citations would count as wrong whatever they cite."""
    for source in question.sources:
        if source not in lengths:
            try:
                lengths[source] = len(load_article(folder / source).text)
            except BadInputError as exc:
                raise BadInputError(f"{where}: source {source!r} is not an article of {folder} ({exc})") from None
    for key, spans in (("evidence", question.evidence), ("also", question.also)):
        for span in spans:
            if span.end > lengths[span.source]:
                raise BadInputError(f"{where}: {key} ends at character {span.end}, past the end of {span.source} "
                                    f"({lengths[span.source]} characters)")


def _spans(raw, key: str, sources: list[str], where: str) -> list[Span]:
    """{"source", "start", "end"} objects as Spans, each in one of the question's sources."""
    shape = f'{where}: {key} must be a list of {{"source": FILE, "start": N, "end": M}} with 0 <= N < M'
    if not isinstance(raw, list):
        raise BadInputError(shape)
    spans = []
    for item in raw:
        if not (isinstance(item, dict) and set(item) == {"source", "start", "end"}
                and all(isinstance(item[k], int) and not isinstance(item[k], bool) for k in ("start", "end"))
                and 0 <= item["start"] < item["end"]):
            raise BadInputError(shape)
        if item["source"] not in sources:
            raise BadInputError(f"{where}: {key} points into {item['source']!r}, "
                                f"which is not one of the sources {sources}")
        spans.append(Span(item["source"], item["start"], item["end"]))
    return spans


def select_questions(questions: list[EvalQuestion], kind: str | None = None, limit: int | None = None,
                     seed: int | None = None, split: str | None = None) -> list[EvalQuestion]:
    """Those of `kind` and `split`; then the first `limit`, or with a seed a random sample of
    `limit` (half answerable, half not, as far as there are), kept in file order so that two
    samples with the same seed read alike."""
    if split is not None:
        if split not in SPLITS:
            raise BadInputError(f"split must be one of {list(SPLITS)}, not {split!r}")
        questions = [q for q in questions if q.split == split]
        if not questions:
            raise BadInputError(f"no question of split {split!r} in this set (a SQuAD file has no split)")
    if kind is not None:
        kinds = list(dict.fromkeys(q.kind for q in questions))
        questions = [q for q in questions if q.kind == kind]
        if not questions:
            raise BadInputError(f"no question of kind {kind!r}; kinds in this set: {kinds}")
    if limit is not None and limit < 1:
        raise BadInputError(f"limit must be at least 1, not {limit}")
    if limit is None or limit >= len(questions):
        return questions
    if seed is None:
        return questions[:limit]
    return _balanced_sample(questions, limit, random.Random(seed))


def _balanced_sample(questions: list[EvalQuestion], limit: int, rng: random.Random) -> list[EvalQuestion]:
    """`limit` questions, half of them unanswerable where the set has that many: a sample of
    SQuAD 2.0 must test declining as much as answering, whatever the file's proportions."""
    answerable = [i for i, q in enumerate(questions) if q.answerable]
    unanswerable = [i for i, q in enumerate(questions) if not q.answerable]
    want_unanswerable = min(len(unanswerable), max(limit // 2, limit - len(answerable)))
    picked = set(rng.sample(unanswerable, want_unanswerable))
    picked |= set(rng.sample(answerable, limit - want_unanswerable))
    return [q for i, q in enumerate(questions) if i in picked]
