"""Retrieval alone, no generator: where each answerable question's gold article ranks.

    python eval/retrieval_probe.py --json /tmp/seeds.json                  # the 84 seed questions, the seed index
    python eval/retrieval_probe.py --squad ../shared/data/squad2-dev-part.json --json /tmp/squad.json
    python eval/retrieval_probe.py --set eval/news/tuning.jsonl --index /tmp/news-index   # another set, its index

A retrieval change (query reading, ranking, filters) can be measured in a minute or two over
every answerable question of a SQuAD file (1,213 of its 2,624, about 40 ms each) instead of the
100 an end-to-end run can afford: it prints recall@1, recall@top_k (the passages the model is shown) and MRR over the
answerable questions, and writes each question's search text and gold rank, so two runs can be
compared question by question (`--compare A B`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.config import PROJECT_DIR, load_settings
from rag.evaluation.metrics import gold_rank, mean, recall_at
from rag.evaluation.questions import load_questions
from rag.evaluation.squad import load_squad, throwaway_index


def probe(questions, index_dir: Path, settings) -> list[dict]:
    """Per answerable question: its search text, the gold article's rank among the 10 best
    passages, and recall at 1, top_k and 10 as the eval reports define it (rag.evaluation.metrics)."""
    from rag.embedding import load_embedder
    from rag.index import load_index
    from rag.retrieval import retrieve, search_text

    index = load_index(index_dir, settings.embedding_model)
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    rescorer = load_embedder(settings.rescore_model, settings.models_dir) if settings.rescore_model else None
    rows = []
    for q in questions:
        if not q.answerable:
            continue
        hits = retrieve(q.question, index, embedder, 10, rescorer, q.history)
        sources = [hit.chunk.source for hit in hits]
        searched = search_text(q.question, q.history, index, embedder)
        rows.append({"id": q.id, "question": q.question, "searched": searched, "rank": gold_rank(sources, q.sources),
                     **{f"recall@{k}": recall_at(sources, q.sources, k) for k in sorted({1, settings.top_k, 10})}})
    return rows


def summary(rows: list[dict], top_k: int) -> str:
    at = lambda k: mean([r[f"recall@{k}"] for r in rows])  # noqa: E731
    mrr = mean([1 / r["rank"] if r["rank"] else 0.0 for r in rows])
    return (f"{len(rows)} answerable questions: R@1 {at(1):.3f}  R@{top_k} {at(top_k):.3f}  R@10 {at(10):.3f}  "
            f"MRR {mrr:.3f}")


def compare(before: Path, after: Path) -> None:
    old = {r["id"]: r for r in json.loads(before.read_text())}
    new = {r["id"]: r for r in json.loads(after.read_text())}
    worse = better = 0
    for key, row in new.items():
        a, b = old[key]["rank"] or 99, row["rank"] or 99
        if a != b or old[key]["searched"] != row["searched"]:
            better, worse = better + (b < a), worse + (b > a)
            print(f"{a:>2} -> {b:>2}  {old[key]['searched']!r} -> {row['searched']!r}")
    print(f"gold ranked higher: {better}, lower: {worse}, of {len(new)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, help="a SQuAD file: every question, over a throwaway index of it")
    parser.add_argument("--json", type=Path, help="write each question's search text and gold rank here")
    parser.add_argument("--set", type=Path, dest="question_set", help="a questions file (default: the seed set)")
    parser.add_argument("--index", type=Path, help="the index --set's questions ask about (default: the seed index)")
    parser.add_argument("--split", choices=["dev", "test"], help="only this split of the questions file")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    settings = load_settings()
    if args.squad:
        squad = load_squad(args.squad)
        with throwaway_index(squad.documents, settings=settings, progress=False) as index_dir:
            rows = probe(squad.questions, index_dir, settings)
    else:
        questions = load_questions(args.question_set or PROJECT_DIR / "eval" / "questions.jsonl")
        asked = [q for q in questions if args.split in (None, q.split)]
        rows = probe(asked, args.index or settings.index_dir, settings)
    print(summary(rows, settings.top_k))
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
