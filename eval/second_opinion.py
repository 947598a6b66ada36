"""How rag.consistency's second opinion would decide on a report's answers: the model asked again.

    .venv/bin/python eval/second_opinion.py ask REPORT.json [--index DIR] [--split dev] [--declined] --json OUT.json
    .venv/bin/python eval/second_opinion.py summarise OUT.json [OUT2.json ...]

`ask` rebuilds each row's prompt from the passages it recorded (`shown`), has the model write
its answer again (greedy, as the pipeline does) and, when that answer is not the decline,
samples `consistency_samples` replies as rag.consistency does, each checked by rag.answer.finish
(with `--declined`, for the declines it writes that the calibrated decline let through instead).
Run it on tuning rows only (a report's dev split, SQuAD seeds other than 0), with no other model
job on the machine. `summarise` grades the answers as the eval does and prints, for the answers
the calibrated decline lets through (rag.decline, from the report's recorded signals), how many
right, wrong and unanswerable ones 0, 1, 2... samples contradict, and what each gate on P(unanswerable)
would decline, with the samples drawn (rag.consistency.tally stops once the rest cannot change
the decision) of those asked for. The figures behind rag.consistency's defaults came from this (2026-12-05).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from rag.answer import Checked, finish
from rag.config import load_settings
from rag.consistency import disagreeing, overrules, resample, same_answer, tally
from rag.decline import declines, unanswerable
from rag.evaluation.metrics import is_right
from rag.evaluation.squad import throwaway_index
from rag.prompt import answer_grammar, build_messages, reading_order
from rag.schema import Hit

sys.path.insert(0, str(Path(__file__).parent))
from replay_checks import chunks_by_id, rebuilt_from  # noqa: E402

GATES = (0.0, 0.1, 0.2, 0.3, 0.4)


def ask(report_path: Path, index: Path | None, split: str | None, out: Path, declined: bool) -> None:
    from rag.generation import load_generator

    report = json.loads(report_path.read_text(encoding="utf-8"))
    rows = [r for r in report["rows"] if r.get("shown") and (split is None or r.get("split") == split)]
    settings = load_settings()
    with ExitStack() as stack:
        if index is None:
            documents, folders = rebuilt_from(report["meta"], None)
            index = stack.enter_context(throwaway_index(documents, *folders, settings=settings, progress=False))
        chunks = chunks_by_id(index, settings)
    generator = load_generator(settings)
    results = []
    for row in rows:
        passages = reading_order([Hit(chunks[chunk_id], 0.0) for chunk_id in row["shown"]])
        messages, grammar = build_messages(row["question"], passages), answer_grammar(len(passages))
        answer = finish("".join(generator.stream(messages, settings.max_answer_tokens, grammar)), passages,
                        row["question"])
        # Sampled: the answers (or with `declined`, the declines the calibrated decline let through).
        sampled = (answer.abstained and reached(row)) if declined else not answer.abstained
        samples = list(resample(generator, messages, grammar, passages, row["question"], settings.consistency_samples,
                                settings.max_answer_tokens)) if sampled else []
        results.append({key: row.get(key) for key in ("id", "question", "answerable", "gold_answers", "match",
                                                      "decline_logprob", "top_score")}
                       | {"answer": answer.text, "abstained": answer.abstained,
                          "samples": [{"text": s.text, "abstained": s.abstained} for s in samples]})
        out.write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(row["id"], answer.text[:70], "|", [s.text[:30] for s in samples], flush=True)


def reached(row: dict) -> bool:
    """Whether the pipeline would have the model write an answer: the calibrated decline (from the
    row's recorded signals) did not decline first."""
    return row["decline_logprob"] is None or not declines(row["decline_logprob"], row["top_score"])


def summarise(paths: list[Path]) -> None:
    rows = [row for path in paths for row in json.loads(path.read_text(encoding="utf-8"))]
    graded = []
    for row in rows:
        signals = row["decline_logprob"] is not None
        if not reached(row) or row["abstained"]:
            continue  # declined before a second opinion could be asked
        right = is_right(row["answerable"], row["gold_answers"], row["match"], row["answer"], False)
        kind = "right" if right else "wrong" if row["answerable"] else "unanswerable"
        against = disagreeing(row["answer"], [(s["text"], s["abstained"]) for s in row["samples"]], row["question"])
        p = unanswerable(row["decline_logprob"], row["top_score"]) if signals else 1.0
        drawn = tally(row["answer"], [Checked(s["text"], [], s["abstained"]) for s in row["samples"]],
                      len(row["samples"]), row["question"])[1]
        graded.append((kind, against, len(row["samples"]), p, drawn))
    kinds = ("right", "wrong", "unanswerable")
    table = Counter((kind, against) for kind, against, *_ in graded)
    print(f"{len(graded)} answers after the calibrated decline ({len(rows)} rows)")
    print("samples contradicting  " + "  ".join(f"{kind:>12s}" for kind in kinds))
    for against in range(max((samples for _, _, samples, *_ in graded), default=0) + 1):
        print(f"{against:>21d}  " + "  ".join(f"{table[(kind, against)]:12d}" for kind in kinds))
    for gate in GATES:
        asked = [(kind, against, samples, drawn) for kind, against, samples, p, drawn in graded if p >= gate]
        overruled = Counter(kind for kind, against, samples, _ in asked if overrules(against, samples))
        print(f"gate P(unanswerable) >= {gate}: {len(asked)} asked again; declined: "
              + ", ".join(f"{overruled[kind]} {kind}" for kind in kinds)
              + f"; samples drawn {sum(drawn for *_, drawn in asked)} of {sum(samples for _, _, samples, _ in asked)}")
    declined = [row for row in rows if reached(row) and row["abstained"] and row["samples"]]
    if declined:
        print(f"{len(declined)} declines written by the model or its checks, sampled (ask --declined):")
        for agreeing in range(1, max(len(row["samples"]) for row in declined) + 1):
            outcome = Counter(_rescued(row, agreeing) for row in declined)
            print(f"  a sample answer {agreeing}+ samples agree on taken instead: "
                  + ", ".join(f"{outcome[kind]} {kind}" for kind in ("right", "wrong", "unanswerable", "kept")))


def _rescued(row: dict, agreeing: int) -> str:
    """What taking the sampled answer that at least `agreeing` samples give would make of a decline:
    "right", "wrong", "unanswerable" (an answer to one), or "kept" (no such answer)."""
    answers = [s["text"] for s in row["samples"] if not s["abstained"]]
    for text in answers:
        if sum(same_answer(text, False, other, False, row["question"]) for other in answers) >= agreeing:
            if not row["answerable"]:
                return "unanswerable"
            return "right" if is_right(True, row["gold_answers"], row["match"], text, False) else "wrong"
    return "kept"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    asking = commands.add_parser("ask")
    asking.add_argument("report", type=Path)
    asking.add_argument("--index", type=Path, help="the index the report was run on (default: rebuilt)")
    asking.add_argument("--split", choices=["dev", "test"])
    asking.add_argument("--json", type=Path, required=True)
    asking.add_argument("--declined", action="store_true",
                        help="sample the declines the model or its checks wrote instead of the answers")
    summing = commands.add_parser("summarise")
    summing.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "ask":
        ask(args.report, args.index, args.split, args.json, args.declined)
    else:
        summarise(args.results)


if __name__ == "__main__":
    main()
