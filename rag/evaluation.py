"""`rag eval`: ask every question of an evaluation set, score the answers without a model.

Each question makes one flat row (answer accuracy, retrieval, citations, abstention, speed); the
rows are summarised overall and per kind. `run_eval` takes the three things it needs as functions
(ask, rank, embed), so its logic is tested with fakes; `evaluate` wires in the real pipeline and
records the settings and model hashes with the figures. The metrics are in rag.evaluation_metrics,
the tables and comparisons in rag.evaluation_report, the SQuAD runner in rag.evaluation_squad.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from rag.config import PROJECT_DIR, Settings
from rag.errors import BadInputError
from rag.evaluation_metrics import (
    MATCHES, RECALL_AT, best_f1, citation_checks, citation_precision, citation_recall, contains_answer, gold_rank,
    mean, normalize_answer, percentile, recall_at, strip_markers,
)
from rag.schema import Answer, Hit

__all__ = ["KINDS", "EvalQuestion", "load_questions", "select_questions", "score", "run_eval", "summarize",
           "evaluate", "evaluate_set"]

log = logging.getLogger(__name__)

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
ROLES = ("user", "assistant")

_REQUIRED = ("id", "question", "answers", "sources", "kind")
_OPTIONAL = ("match", "history", "note")

AskFn = Callable[[str, list[dict]], Answer]  # (question, history) -> Answer
RankFn = Callable[[str, list[dict]], list[Hit]]  # (question, history) -> passages, best first
EmbedFn = Callable[[list[str]], np.ndarray]  # texts -> unit-length vectors


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

    @property
    def answerable(self) -> bool:
        return not self.kind.startswith("unanswerable")


# --- the question set


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


def select_questions(questions: list[EvalQuestion], kind: str | None = None, limit: int | None = None,
                     seed: int | None = None) -> list[EvalQuestion]:
    """Those of `kind`; then the first `limit`, or with a seed a random sample of `limit`, kept
    in file order so that two samples with the same seed read alike."""
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
    picked = set(random.Random(seed).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in picked]


# --- scoring


def score(question: EvalQuestion, answer: Answer, ranked: list[Hit], embed: EmbedFn) -> dict:
    """One flat row per question: what was asked, what came back, and each metric's value.

    `ranked` is the retrieval ranking, deeper than the passages shown to the model; a metric that
    does not apply (retrieval for an unanswerable question, citations for a declined answer) is None.
    """
    text = strip_markers(answer.text)
    # The pipeline decides when it declines; scoring trusts that flag instead of guessing from
    # phrases like "the articles do not say", which a partly right answer may also contain.
    abstained = answer.abstained
    cited = list(dict.fromkeys(c.source for c in answer.citations))
    sources = [hit.chunk.source for hit in ranked]
    row = {
        "id": question.id, "kind": question.kind, "question": question.question,
        "gold_answers": question.answers, "gold_sources": question.sources,
        "answer": answer.text, "answerable": question.answerable, "abstained": abstained,
    }
    if question.answerable:
        rank = gold_rank(sources, question.sources)
        row |= {
            "correct": contains_answer(text, question.answers, question.match) and not abstained,
            "f1": best_f1(text, question.answers),
            "gold_source_cited": any(s in question.sources for s in cited),
            "gold_rank": rank,
            "reciprocal_rank": 1 / rank if rank else 0.0,
            **{f"recall@{k}": recall_at(sources, question.sources, k) for k in RECALL_AT},
        }
    else:
        row |= {"correct": abstained, "f1": None, "gold_source_cited": None, "gold_rank": None,
                "reciprocal_rank": None, **{f"recall@{k}": None for k in RECALL_AT}}
    checks = [] if abstained else citation_checks(answer.text, answer.citations, embed)
    row |= {
        "citation_precision": citation_precision(checks),
        "citation_recall": citation_recall(checks),
        "citation_checks": checks,
        "citations": [asdict(c) for c in answer.citations],
        "cited_sources": cited,
        "retrieved": [{"source": h.chunk.source, "chunk_id": h.chunk.id, "score": round(h.score, 4)} for h in ranked],
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "retrieval_s": answer.timings.retrieval,
        "first_token_s": answer.timings.first_token,
        "total_s": answer.timings.total,
    }
    return row


def run_eval(questions: list[EvalQuestion], ask_fn: AskFn, rank_fn: RankFn, embed: EmbedFn,
             progress: bool = True) -> dict:
    """Ask each question (with its history); return {"rows", "summary"}."""
    from tqdm import tqdm

    rows = []
    for question in tqdm(questions, desc="eval", unit="q", disable=not progress):
        history = [dict(m) for m in question.history]
        answer = ask_fn(question.question, history)
        # answer.question is the question as the pipeline cleaned it, so the ranking is the one it saw.
        ranked = rank_fn(answer.question, history)
        shown = [hit.chunk.id for hit in answer.hits]
        if shown != [hit.chunk.id for hit in ranked[: len(shown)]]:
            log.warning("%s: the passages shown to the model are not the top of the ranking scored for "
                        "retrieval; the retrieval figures may not describe what the model saw", question.id)
        rows.append(score(question, answer, ranked, embed))
    return {"rows": rows, "summary": summarize(rows)}


def summarize(rows: list[dict]) -> dict:
    """{"overall": metrics, "by_kind": {kind: metrics}}, kinds in KINDS order, then any others."""
    kinds = sorted(dict.fromkeys(r["kind"] for r in rows),
                   key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS))
    return {
        "overall": _metrics(rows),
        "by_kind": {k: _metrics([r for r in rows if r["kind"] == k]) for k in kinds},
    }


def _metrics(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def values(key: str, among: list[dict] = rows) -> list:
        return [r[key] for r in among if r[key] is not None]

    totals, first_tokens = values("total_s"), values("first_token_s")
    return {
        "count": len(rows),
        "accuracy": _share(rows, "correct"),
        "answerable_accuracy": _share(answerable, "correct"),
        "mean_f1": mean(values("f1", answerable)),
        "abstention": _share(unanswerable, "abstained"),  # unanswerable correctly declined
        "false_abstention": _share(answerable, "abstained"),  # answerable wrongly declined
        **{f"recall@{k}": mean(values(f"recall@{k}", answerable)) for k in RECALL_AT},
        "mrr": mean(values("reciprocal_rank", answerable)),
        "source_cited": _share(answerable, "gold_source_cited"),
        # Means over the answers that have a value: a declined answer cites nothing and is left out.
        "citation_precision": mean(values("citation_precision")),
        "citation_recall": mean(values("citation_recall")),
        "first_token_median_s": percentile(first_tokens, 0.5),
        "first_token_p90_s": percentile(first_tokens, 0.9),
        "total_median_s": percentile(totals, 0.5),
        "total_p90_s": percentile(totals, 0.9),
        # Only questions that reached the model: an early decline sends no prompt.
        "prompt_tokens_mean": mean([r["prompt_tokens"] for r in rows if r["prompt_tokens"]]),
    }


def _share(rows: list[dict], key: str) -> float | None:
    # None, not 0.0, when nothing was measured: a kind without unanswerable questions has no
    # abstention rate, and printing 0% would read as a failure.
    return sum(bool(r[key]) for r in rows) / len(rows) if rows else None


# --- the real pipeline


def evaluate(questions: list[EvalQuestion], *, settings: Settings, index_dir: str | Path | None = None,
             progress: bool = True) -> dict:
    """Ask `questions` against the index through rag.ask; the report: {"meta", "summary", "rows"}."""
    from rag.embedding import load_embedder
    from rag.index import load_index
    from rag.pipeline import ask
    from rag.retrieval import retrieve, standalone_query

    index_dir = Path(index_dir) if index_dir is not None else settings.index_dir
    index = load_index(index_dir, settings.embedding_model)
    embedder = load_embedder(settings.embedding_model)
    result = run_eval(
        questions,
        ask_fn=lambda text, history: ask(text, index_dir=index_dir, history=history, settings=settings),
        # The same function and query as ask(), only deeper: no second model call.
        rank_fn=lambda text, history: retrieve(standalone_query(text, history), index, embedder, max(RECALL_AT)),
        embed=embedder.embed,
        progress=progress,
    )
    return {"meta": run_info(settings, index_dir, index.manifest), **result}


def evaluate_set(path: str | Path, *, settings: Settings, index_dir: str | Path | None = None,
                 kind: str | None = None, limit: int | None = None, progress: bool = True) -> dict:
    """`evaluate` on a questions file (see eval/README.md), optionally one kind or the first `limit`."""
    questions = select_questions(load_questions(path), kind=kind, limit=limit)
    report = evaluate(questions, settings=settings, index_dir=index_dir, progress=progress)
    report["meta"]["question_set"] = {"path": str(path), "kind": kind, "limit": limit}
    return report


def run_info(settings: Settings, index_dir: Path, manifest: dict) -> dict:
    """What produced the figures: settings, model identities, index and code versions."""
    from rag.models import EMBEDDING_MODELS, GENERATORS

    generator = GENERATORS.get(settings.generator)
    package = EMBEDDING_MODELS.get(settings.embedding_model, ("",))[0].replace("_", "-")
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(settings).items()},
        # A generator given as a path has no published hash; hashing a GB file per run is not worth it.
        "generator": {"name": settings.generator, "sha256": generator.sha256 if generator else None},
        "embedding_model": {"name": settings.embedding_model, "package": package,
                            "version": _version(package)},
        "index": {"path": str(index_dir), "created": manifest.get("created"),
                  "articles": len(manifest.get("articles", [])),
                  "chunks": sum(a.get("chunks", 0) for a in manifest.get("articles", []))},
    }


def _git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:  # not a git checkout, e.g. an unpacked release
        return None
    return result.stdout.strip() or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except (metadata.PackageNotFoundError, ValueError):
        return None
