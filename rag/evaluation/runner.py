"""`rag eval`: ask every question of an evaluation set, score the answers without a model.

Each question makes one flat row (answer accuracy, retrieval, citations against gold evidence,
abstention, speed); the rows are summarised overall, per split and per kind. `run_eval` takes the
two things it needs as functions (ask, rank), so its logic is tested with fakes; `evaluate` wires
in the real pipeline and records the settings and model hashes with the figures. The question set
is read by rag.evaluation.questions, the metrics are in rag.evaluation.metrics, the tables and
comparisons in rag.evaluation.report, the SQuAD runner in rag.evaluation.squad.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from rag.config import PROJECT_DIR, Settings
from rag.evaluation.metrics import (
    RECALL_AT, best_f1, cited_spans, gold_rank, grade_citations, is_right, mean, percentile, recall_at,
    strip_markers,
)
from rag.evaluation.questions import KINDS, SPLITS, EvalQuestion, load_questions, select_questions
from rag.schema import DECLINED_BY, Answer, Hit

__all__ = ["score", "run_eval", "summarize", "evaluate", "evaluate_set"]

log = logging.getLogger(__name__)

AskFn = Callable[[str, list[dict]], Answer]  # (question, history) -> Answer
RankFn = Callable[[str, list[dict]], list[Hit]]  # (question, history) -> passages, best first


# --- scoring


def score(question: EvalQuestion, answer: Answer, ranked: list[Hit]) -> dict:
    """One flat row per question: what was asked, what came back, and each metric's value.

    `ranked` is the retrieval ranking, deeper than the passages shown to the model; a metric that
    does not apply (retrieval for an unanswerable question, citations for a declined answer) is None.
    """
    text = strip_markers(answer.text)
    # The pipeline decides when it declines; scoring trusts that flag instead of guessing from
    # phrases like "the articles do not say", which a partly right answer may also contain.
    abstained = answer.abstained
    right = is_right(question.answerable, question.answers, question.match, answer.text, abstained)
    cited = list(dict.fromkeys(c.source for c in answer.citations))
    sources = [hit.chunk.source for hit in ranked]
    row = {
        "id": question.id, "kind": question.kind, "split": question.split, "question": question.question,
        "gold_answers": question.answers, "match": question.match, "gold_sources": question.sources,
        "answer": answer.text, "answerable": question.answerable, "abstained": abstained,
    }
    # Citations are graded where there is gold evidence to grade them against: an answered
    # answerable question whose evidence is marked.
    graded = question.answerable and not abstained and bool(question.evidence)
    grades = grade_citations(answer.citations, question.evidence, question.also) if graded else None
    if question.answerable:
        rank = gold_rank(sources, question.sources)
        row |= {
            "correct": right,
            "f1": best_f1(text, question.answers),
            "gold_source_cited": any(s in question.sources for s in cited),
            "gold_rank": rank,
            "reciprocal_rank": 1 / rank if rank else 0.0,
            **{f"recall@{k}": recall_at(sources, question.sources, k) for k in RECALL_AT},
        }
    else:
        row |= {"correct": right, "f1": None, "gold_source_cited": None, "gold_rank": None,
                "reciprocal_rank": None, **{f"recall@{k}": None for k in RECALL_AT}}
    row |= {
        "cited_sentences": grades["cited"] if grades else None,
        "cited_on_evidence": grades["on_evidence"] if grades else None,
        "citations_cover_gold": grades["covers_gold"] if grades else None,
        "citations": [asdict(c) | {"cited_spans": [asdict(span) for span in cited_spans(c)]} for c in answer.citations],
        "unsupported": answer.unsupported,  # sentences the pipeline dropped as unsupported
        "withdrawn": answer.withdrawn,  # those of an answer the model did not stand by (Answer.why_withdrawn)
        "declined_by": answer.declined_by,  # what made the answer the decline (rag.schema.DECLINED_BY)
        # What the answer check read: the model's reply and the passages shown, in the order of
        # Answer.hits (eval/replay_checks.py re-runs the check on them without the model).
        "raw_answer": answer.raw_text,
        "shown": [h.chunk.id for h in answer.hits],
        "cited_sources": cited,
        "retrieved": [{"source": h.chunk.source, "chunk_id": h.chunk.id, "score": round(h.score, 4)} for h in ranked],
        # The two signals rag.decline weighs (eval/calibrate.py fits it from these columns).
        "top_score": round(max((h.score for h in answer.hits), default=0.0), 4),
        "decline_logprob": answer.decline_logprob,
        # rag.consistency's second opinion, if asked: samples saying something else, of those drawn.
        "samples_disagreeing": answer.samples_disagreeing,
        "samples_drawn": answer.samples_drawn,
        # log P("Yes") - log P("No") for an answer that says yes or a yes/no question declined
        # (rag.decline.doubts_yes), and the "No, in fact, ..." reply then asked for, if any.
        "yes_margin": answer.yes_margin,
        "correction": answer.correction,
        "prompt_tokens": answer.prompt_tokens,
        "new_prompt_tokens": answer.new_prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "cut_off": answer.cut_off,  # max_answer_tokens stopped the reply (eval/replay_checks.py)
        "retrieval_s": answer.timings.retrieval,
        "first_token_s": answer.timings.first_token,
        "total_s": answer.timings.total,
    }
    return row


def run_eval(questions: list[EvalQuestion], ask_fn: AskFn, rank_fn: RankFn, progress: bool = True) -> dict:
    """Ask each question (with its history); return {"rows", "summary"}."""
    from tqdm import tqdm

    rows = []
    for question in tqdm(questions, desc="eval", unit="q", disable=not progress):
        history = [dict(m) for m in question.history]
        answer = ask_fn(question.question, history)
        # answer.question is the question as the pipeline cleaned it, so the ranking is the one it saw.
        ranked = rank_fn(answer.question, history)
        # The model is shown the ranking's first passage and, in order, those of the rest within
        # reach of the best one (rag.retrieval.within_reach).
        shown = [hit.chunk.id for hit in answer.hits]
        ranked_ids = [hit.chunk.id for hit in ranked]
        if shown[:1] != ranked_ids[:1] or shown != [chunk for chunk in ranked_ids if chunk in shown]:
            log.warning("%s: the passages shown to the model are not the top of the ranking scored for "
                        "retrieval; the retrieval figures may not describe what the model saw", question.id)
        rows.append(score(question, answer, ranked))
    return {"rows": rows, "summary": summarize(rows)}


def summarize(rows: list[dict]) -> dict:
    """{"overall": metrics, "by_split": {split: metrics}, "by_kind": {kind: metrics}}; splits in
    SPLITS order (none for a set without splits), kinds in KINDS order, then any others."""
    kinds = sorted(dict.fromkeys(r["kind"] for r in rows),
                   key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS))
    return {
        "overall": _metrics(rows),
        "by_split": {s: _metrics([r for r in rows if r.get("split") == s]) for s in SPLITS
                     if any(r.get("split") == s for r in rows)},
        "by_kind": {k: _metrics([r for r in rows if r["kind"] == k]) for k in kinds},
    }


def _metrics(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def values(key: str, among: list[dict] = rows) -> list:
        return [r[key] for r in among if r[key] is not None]

    totals, first_tokens = values("total_s"), values("first_token_s")
    cited = sum(values("cited_sentences"))
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
        # Over the answered answerable questions with gold evidence: the share of all their
        # citations that point at evidence, and the share of answers with one that points at gold.
        "citation_precision": sum(values("cited_on_evidence")) / cited if cited else None,
        "citation_recall": _share([r for r in rows if r["citations_cover_gold"] is not None], "citations_cover_gold"),
        "first_token_median_s": percentile(first_tokens, 0.5),
        "first_token_p90_s": percentile(first_tokens, 0.9),
        "total_median_s": percentile(totals, 0.5),
        "total_p90_s": percentile(totals, 0.9),
        # Only questions that reached the model: an early decline sends no prompt.
        "prompt_tokens_mean": mean([r["prompt_tokens"] for r in rows if r["prompt_tokens"]]),
        # What the model had to read, its cached prefix left out: the figure that decides the
        # wait on any CPU (a slow one reads ~35 tokens/s).
        "new_prompt_tokens_median": percentile([r["new_prompt_tokens"] for r in rows if r["prompt_tokens"]], 0.5),
        # What declined the questions that were: {cause: [unanswerable, answerable]} (reports from
        # before 2026-12-07 do not record it).
        "declined_by": {cause: [sum(r.get("declined_by") == cause for r in among)
                                for among in (unanswerable, answerable)] for cause in DECLINED_BY},
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
    from rag.generation import load_generator
    from rag.index import load_index
    from rag.pipeline import ask
    from rag.retrieval import passages_for

    index_dir = Path(index_dir) if index_dir is not None else settings.index_dir
    index = load_index(index_dir, settings.embedding_model)
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    rescorer = load_embedder(settings.rescore_model, settings.models_dir) if settings.rescore_model else None
    # Loaded before the clock starts, as in a running UI: otherwise the first question's time to
    # first token would include seconds of model loading.
    load_generator(settings)
    result = run_eval(
        questions,
        ask_fn=lambda text, history: ask(text, index_dir=index_dir, history=history, settings=settings),
        # The same call as ask() makes, only deeper: no second generator call. run_eval warns if
        # the two ever disagree on the passages the model saw.
        rank_fn=lambda text, history: passages_for(text, index, embedder, max(RECALL_AT), 0, rescorer, history),
        progress=progress,
    )
    return {"meta": run_info(settings, index_dir, index), **result}


def question_slice(path: str | Path, articles: Path, *, kind: str | None = None, split: str | None = None,
                   limit: int | None = None) -> tuple[list[EvalQuestion], dict]:
    """The questions of a questions file to ask (one kind, one split or the first `limit`), checked
    against the folder of the articles they ask about, and how a report names them (its meta's
    `question_set`)."""
    questions = select_questions(load_questions(path, articles=articles), kind=kind, split=split, limit=limit)
    # The articles too: eval/replay_checks.py rebuilds a throwaway index from them.
    return questions, {"path": str(path), "articles": str(articles), "kind": kind, "split": split, "limit": limit}


def evaluate_set(path: str | Path, *, settings: Settings, index_dir: str | Path | None = None,
                 kind: str | None = None, split: str | None = None, limit: int | None = None,
                 progress: bool = True) -> dict:
    """`evaluate` on a questions file (see eval/README.md), optionally one kind, one split or the first `limit`."""
    from rag.library import articles_folder

    # The evidence offsets point into the files the index read: those of the folder it records.
    # Checked before any model loads.
    index_dir = Path(index_dir) if index_dir is not None else settings.index_dir
    questions, named = question_slice(path, articles_folder(index_dir), kind=kind, split=split, limit=limit)
    report = evaluate(questions, settings=settings, index_dir=index_dir, progress=progress)
    report["meta"]["question_set"] = named
    return report


def run_info(settings: Settings, index_dir: Path, index) -> dict:
    """What produced the figures: settings, model identities, index and code versions."""
    from rag.models import GENERATORS

    generator = GENERATORS.get(settings.generator)
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": machine(),
        # The index asked, which an eval may have built apart from the configured one.
        "settings": {k: str(v) if isinstance(v, Path) else v
                     for k, v in dataclasses.asdict(dataclasses.replace(settings, index_dir=index_dir)).items()},
        # A generator given as a path has no published hash; hashing a GB file per run is not worth it.
        "generator": {"name": settings.generator, "sha256": generator.sha256 if generator else None},
        "embedding_model": settings.embedding_model,
        "index": {"path": str(index_dir), "created": index.meta.get("created"), "updated": index.meta.get("updated"),
                  "articles": len(index.articles), "chunks": index.size},
    }


def machine() -> dict:
    """The CPU and the numeric libraries the figures were computed with. The same code, models and
    settings answer otherwise elsewhere: llama.cpp's sums differ in their last bits between CPUs and
    builds, and a near tie then falls the other way (the test split asked on an AMD EPYC after an
    Intel machine, 2026-12-06: 3 of 40 answers worded otherwise, one right answer declined)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:  # not Linux
        pass
    libraries = {}
    for package in ("llama_cpp_python", "faiss-cpu", "torch", "sentence-transformers"):
        try:
            libraries[package] = version(package)
        except PackageNotFoundError:
            libraries[package] = None
    return {"cpu": cpu, "cores": os.cpu_count(), **libraries}


def _git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:  # not a git checkout, e.g. an unpacked release
        return None
    return result.stdout.strip() or None
