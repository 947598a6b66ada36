"""What each of the answer checks did on an eval report: answers it saved, answers it wrongly cut,
and where its citations point.

    .venv/bin/python eval/replay_checks.py REPORT.json [--index DIR | --articles DIR]

rag.answer.finish checks the model's reply without a model, so it can be re-run on a report's
rows (their `raw_answer` and `shown` passages, recorded since 2026-12-04) with one check switched
off at a time. A row's outcome is graded as the report grades it (an answerable question is right
when the answer holds a gold phrase and is not a decline; an unanswerable one when it is declined):
a check **saved** a row that is right with it and wrong without it, and **cut** one that is wrong
with it and right without it. Beside them, the citations of each replay graded against the
question set's gold evidence as the report grades them (cite P / R over the answered answerable
questions with evidence): what a check does to where answers point, not only to whether they are
right. Rows the pipeline declined before the model wrote, or whose answer
the model did not stand by (its second opinion, rag.consistency, samples; its doubt about a "Yes",
rag.decline.doubts_yes, scores: neither can be replayed without it), or that its "No, in fact,
..." reply gave (the report's `correction`, not its `raw_answer`), are not the checks' doing
and are left out. Before the table it lists every answer the replay with every
check on words differently from the report, so a change to the checks can be read answer by
answer on kept reports before any eval is run.

The checks (rag.grounding's rules, as rag.answer applies them):
- `support`: a sentence whose content words are mostly not in a passage is left out (and an
  answer left with no sentence becomes the decline); switched off, every sentence is supported;
- `novel_terms`: a sentence naming a name or number no passage or the question mentions is left
  out; switched off, none is;
- `not_in_passage`: a passage does not back a sentence when it (read with the passage before it)
  does not write the question's names the sentence repeats, or the numbers the sentence states;
  switched off, every passage may;
- `lacks_number`: a "how many" (or "how long", "how far"...) answer without a number, a "how much
  did it cost" one without a sum of money, a "what year" one without a year, becomes the decline;
- `lacks_time`: a "when" answer that names no time becomes the decline;
- `lacks_name`: a "what is the name of" answer that names nothing the question does not becomes
  the decline;
- `restates`: an answer that only restates the question becomes the decline;
- `repeats_itself`: an answer that writes the same words twice in a row becomes the decline;
- `reattribute`: a sentence cited to a passage that supports it REATTRIBUTE_MARGIN less than
  another it rests on moves to that one; switched off, it keeps the model's citation (only the
  citations change).

The passages come from the index the report was run on: `--index DIR`, else the one its meta
names if it is still there; or a throwaway index rebuilt as the eval built it (chunk ids follow
the files' content, so they are the same): of `--articles DIR`, of the report's SQuAD file, or of
the set's articles (the folder its meta records; the seed articles for a report from before
2026-12-05, which does not) and the report's distractors, if any.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

from rag.answer import Checked, finish
from rag.config import PROJECT_DIR, load_settings
from rag.evaluation.metrics import grade_citations, is_right
from rag.evaluation.questions import EvalQuestion, load_questions
from rag.evaluation.squad import load_squad, throwaway_index
from rag.index import load_index
from rag.prompt import reading_order
from rag.schema import Hit

CHECKS = {
    "support": ("rag.answer.support", lambda *_: 1.0),
    "novel_terms": ("rag.answer.novel_terms", lambda *_: set()),
    "not_in_passage": ("rag.answer.not_in_passage", lambda *_: []),
    "lacks_number": ("rag.answer.lacks_number", lambda *_: False),
    "lacks_time": ("rag.answer.lacks_time", lambda *_: False),
    "lacks_name": ("rag.answer.lacks_name", lambda *_: False),
    "restates": ("rag.answer.restates", lambda *_: False),
    "repeats_itself": ("rag.answer.repeats_itself", lambda *_: False),
    "reattribute": ("rag.answer.REATTRIBUTE_MARGIN", math.inf),
}


def replay(rows: list[dict], chunks: dict, switched_off: str | None, max_answer_tokens: int) -> dict[str, Checked]:
    """Each answered row's checked answer with the check `switched_off` (None: all checks on); a
    reply the token limit stopped is cut off, as the pipeline tells rag.answer.finish (a report
    from before 2026-12-06 does not record it: one as long as `max_answer_tokens` was)."""
    results = {}
    with ExitStack() as stack:
        if switched_off:
            target, stand_in = CHECKS[switched_off]
            stack.enter_context(mock.patch(target, stand_in))
        for row in rows:
            passages = reading_order([Hit(chunks[chunk_id], 0.0) for chunk_id in row["shown"]])
            cut_off = row.get("cut_off", (row.get("completion_tokens") or 0) >= max_answer_tokens)
            results[row["id"]] = finish(row["raw_answer"], passages, row["question"], cut_off=cut_off)
    return results


def outcomes(rows: list[dict], checked: dict[str, Checked]) -> dict[str, bool]:
    """Whether each replayed answer is right, graded as the report grades it."""
    return {row["id"]: is_right(row["answerable"], row["gold_answers"], row["match"], checked[row["id"]].text,
                                checked[row["id"]].abstained) for row in rows}


def rewritten(rows: list[dict], checked: dict[str, Checked]) -> list[dict]:
    """The rows whose replayed answer reads otherwise than the report's: what a change to the
    checks does, answer by answer, on a kept report before any eval is run."""
    return [row for row in rows if checked[row["id"]].text != row["answer"]]


def citation_figures(checked: dict[str, Checked], questions: dict[str, EvalQuestion]) -> str:
    """Cite P / R of the replayed answers, as rag.evaluation.runner grades a report's: over the
    answered answerable questions with gold evidence."""
    grades = [grade_citations(answer.citations, questions[id].evidence, questions[id].also)
              for id, answer in checked.items()
              if id in questions and questions[id].answerable and questions[id].evidence and not answer.abstained]
    cited = sum(grade["cited"] for grade in grades)
    if not cited:
        return "-"
    return (f"{sum(grade['on_evidence'] for grade in grades)}/{cited} "
            f"{sum(grade['covers_gold'] for grade in grades)}/{len(grades)}")


def questions_of(meta: dict) -> dict[str, EvalQuestion]:
    """The report's questions with their gold evidence: the SQuAD file's, or the question set's
    (its path as recorded, else under the project); none when neither can be read."""
    if meta.get("squad"):
        return {q.id: q for q in load_squad(meta["squad"]["path"]).questions}
    recorded = Path((meta.get("question_set") or {}).get("path") or "")
    path = next((p for p in (recorded, PROJECT_DIR / recorded) if recorded.name and p.is_file()), None)
    return {q.id: q for q in load_questions(path)} if path else {}


def chunks_by_id(index_dir: Path, settings) -> dict:
    index = load_index(index_dir, settings.embedding_model)
    return {chunk.id: chunk for chunk in index.all_chunks()}


def rebuilt_from(meta: dict, articles: Path | None) -> tuple[dict[str, str], list[Path]]:
    """What to index to rebuild the report's throwaway index: (documents, folders), as
    squad.throwaway_index takes them."""
    if articles:
        return {}, [articles]
    if meta.get("squad"):  # its paragraphs, and the folder of articles beside them if it had one
        beside = [Path(meta["distractors"])] if meta.get("distractors") else []
        return load_squad(meta["squad"]["path"]).documents, beside
    folders = [Path((meta.get("question_set") or {}).get("articles") or PROJECT_DIR / "seeds")]
    if not meta.get("distractors"):
        return {}, folders
    distractors = Path(meta["distractors"])
    if distractors.is_dir():
        return {}, [*folders, distractors]
    return load_squad(distractors).documents, folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--index", type=Path, help="the index the report's questions were asked over")
    where.add_argument("--articles", type=Path, help="a folder of articles to index as the eval did")
    args = parser.parse_args()
    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
        # An answer the model did not stand by (its second opinion, rag.consistency, sampled; its
        # doubt about a "Yes", rag.decline.doubts_yes: neither replayable without it) is the
        # decline whatever the checks say, and one its "No, in fact, ..." reply gave (the
        # `correction`) is not the raw answer's; left out, as those declined before the model wrote.
        rows = [r for r in report["rows"] if r.get("raw_answer") and not (
            r["abstained"] and r.get("withdrawn") or not r["abstained"] and r.get("correction"))]
        meta = report["meta"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SystemExit(f"{args.report} is not a readable `rag eval --json` report ({type(exc).__name__}: {exc})")
    if not rows:
        raise SystemExit(f"{args.report} has no raw answers: it was run before they were recorded")
    needed = {"id", "question", "raw_answer", "answer", "shown", "answerable", "gold_answers", "match", "correct"}
    if incomplete := [str(r.get("id")) for r in rows if not needed <= set(r) or not isinstance(r["raw_answer"], str)]:
        raise SystemExit(f"{args.report}: rows without {', '.join(sorted(needed))}: {', '.join(incomplete[:5])}")
    # The passages are rebuilt as the report's run cut them: its chunk size and embedding model.
    recorded = {k: v for k, v in meta.get("settings", {}).items()
                if k in ("embedding_model", "chunk_tokens", "chunk_overlap")}
    settings = dataclasses.replace(load_settings(), **recorded)

    run_on = Path(meta.get("index", {}).get("path") or "")  # the index the report was run on
    index_dir = args.index or (run_on if not args.articles and run_on.name and run_on.is_dir() else None)
    with ExitStack() as stack:
        if index_dir is None:  # rebuilt as the eval built it
            documents, folders = rebuilt_from(meta, args.articles)
            index_dir = stack.enter_context(throwaway_index(documents, *folders, settings=settings, progress=False))
        chunks = chunks_by_id(index_dir, settings)
    if missing := [r["id"] for r in rows if not set(r["shown"]) <= set(chunks)]:
        raise SystemExit(f"the passages shown for {', '.join(missing[:5])} are not in the index used: give the "
                         "index the report was run on (--index) or its articles (--articles)")

    questions = questions_of(meta)
    max_answer_tokens = meta.get("settings", {}).get("max_answer_tokens", settings.max_answer_tokens)
    every_check = replay(rows, chunks, None, max_answer_tokens)
    shipped = outcomes(rows, every_check)
    graded = {r["id"]: r["correct"] for r in rows}
    differs = [i for i in shipped if shipped[i] != graded[i]]
    print(f"{args.report.name}: {len(rows)} answers the model wrote ({sum(not r['answerable'] for r in rows)} "
          f"to unanswerable questions); replayed with every check on, {len(rows) - len(differs)} come out as "
          f"the report graded them" + (f" (differ: {', '.join(differs)})" if differs else ""))
    changed = rewritten(rows, every_check)
    print(f"{len(changed)} answers read differently now than in the report" + (":" if changed else ""))
    for r in changed:
        print(f"  {r['id']} ({'right' if graded[r['id']] else 'wrong'} -> {'right' if shipped[r['id']] else 'wrong'}) "
              f"{r['question']}\n    was: {r['answer']}\n    now: {every_check[r['id']].text}")
    print(f"cite P / R (citations on gold evidence / citations, answers citing gold / answers graded) with every "
          f"check on: {citation_figures(every_check, questions)}" if questions else
          "no gold evidence: the report's question set is not where it records (cite P / R not graded)")
    print(f"{'check':14s} {'saved':>6s} {'cut':>4s} {'cite P / R off':>16s}   rows")
    for name in CHECKS:
        without_check = replay(rows, chunks, name, max_answer_tokens)
        without = outcomes(rows, without_check)
        saved = [i for i in shipped if shipped[i] and not without[i]]
        cut = [i for i in shipped if without[i] and not shipped[i]]
        print(f"{name:14s} {len(saved):6d} {len(cut):4d} {citation_figures(without_check, questions):>16s}   "
              f"saved: {' '.join(saved) or '-'}; cut: {' '.join(cut) or '-'}")


if __name__ == "__main__":
    main()
