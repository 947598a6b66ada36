"""Reading an eval report: the summary tables, and two reports compared question by question."""

from __future__ import annotations

import json
from pathlib import Path

from rag.errors import BadInputError
from rag.evaluation.metrics import RECALL_AT

__all__ = ["format_summary", "compare_reports", "format_comparison"]

# (header, metric key, format), in three tables that share their rows: one line per kind, one per
# split, then overall.
_TABLES = {
    "answers and abstention": [
        ("n", "count", "d"),
        ("acc", "accuracy", "%"),
        ("ans_acc", "answerable_accuracy", "%"),
        ("f1", "mean_f1", ".2f"),
        ("abstain", "abstention", "%"),
        ("false_abst", "false_abstention", "%"),
    ],
    "retrieval and citations": [
        *[(f"R@{k}", f"recall@{k}", "%") for k in RECALL_AT],
        ("MRR", "mrr", ".2f"),
        ("src_cited", "source_cited", "%"),
        ("cite_P", "citation_precision", "%"),
        ("cite_R", "citation_recall", "%"),
    ],
    "speed": [
        ("ttft_med", "first_token_median_s", "s"),
        ("ttft_p90", "first_token_p90_s", "s"),
        ("total_med", "total_median_s", "s"),
        ("total_p90", "total_p90_s", "s"),
        ("prompt_tok", "prompt_tokens_mean", ".0f"),
        ("new_tok_med", "new_prompt_tokens_median", ".0f"),
    ],
}
_COLUMNS = [column for columns in _TABLES.values() for column in columns]
# What changes the figures besides the code: compared and listed above a comparison.
_SETUP = ("git_commit", "machine", "generator", "embedding_model", "settings")


def format_summary(summary: dict) -> str:
    """Plain-text tables, one line per kind, one per split, then overall; '-' marks a metric that
    does not apply."""
    splits = [(f"split {name}", metrics) for name, metrics in summary.get("by_split", {}).items()]
    rows = [*summary["by_kind"].items(), *splits, ("overall", summary["overall"])]
    blocks = []
    for title, columns in _TABLES.items():
        lines = [("kind",) + tuple(header for header, _, _ in columns)]
        lines += [(name,) + tuple(_cell(metrics[key], fmt) for _, key, fmt in columns) for name, metrics in rows]
        blocks.append(f"{title}\n{_align(lines)}")
    if causes := summary["overall"].get("declined_by"):  # not in reports from before 2026-12-07
        lines = [("kind",) + tuple(causes)]
        lines += [(name,) + tuple("/".join(map(str, counts)) for counts in metrics["declined_by"].values())
                  for name, metrics in rows]
        blocks.append(f"declined by (unanswerable/answerable questions)\n{_align(lines)}")
    return "\n\n".join(blocks)


def compare_reports(a_path: str | Path, b_path: str | Path, split: str | None = None, kind: str | None = None) -> dict:
    """What changed from report A to report B: setup, metrics, and each question whose outcome
    moved (right/wrong, rank of the first gold passage, citation precision and recall) or whose
    answer text changed at all. With `split` or `kind` (one of them: a report summarises each, not
    their crossing), only that part's questions and metrics."""
    if split and kind:
        raise BadInputError("compare one part at a time, --split or --kind: a report's summary has each, not both")
    a, b = _load(a_path), _load(b_path)
    part = ("split", split) if split else ("kind", kind) if kind else None
    try:
        return _compared(a, b, a_path, b_path, part)
    except (KeyError, TypeError, AttributeError) as exc:  # a report cut short or edited by hand
        raise BadInputError(f"{a_path} or {b_path} is not a complete `rag eval --json` report "
                            f"({type(exc).__name__}: {exc})") from None


def _compared(a: dict, b: dict, a_path, b_path, part: tuple[str, str] | None) -> dict:
    """compare_reports of two loaded reports; `part`: ("split", "test"), ("kind", "fact") or None (all)."""
    field, name = part or (None, None)
    if part:
        for path, report in ((a_path, a), (b_path, b)):
            if name not in (summarised := report["summary"].get(f"by_{field}", {})):
                has = ", ".join(map(repr, summarised)) or "none"
                raise BadInputError(f"{path} has no {field} {name!r}; it has {has}")
    metrics = [report["summary"][f"by_{field}"][name] if part else report["summary"]["overall"] for report in (a, b)]
    a_rows, b_rows = ({r["id"]: r for r in report["rows"] if not part or r.get(field) == name} for report in (a, b))
    questions = []
    for qid in (q for q in b_rows if q in a_rows):
        changes = _changes(a_rows[qid], b_rows[qid])
        if changes:
            signs = {sign for sign, _ in changes} - {0}
            verdict = ("changed" if not signs else "improved" if signs == {1} else "regressed" if signs == {-1}
                       else "mixed")
            questions.append({"id": qid, "kind": b_rows[qid]["kind"], "verdict": verdict,
                              "changes": [text for _, text in changes]})
    return {
        "a": {"path": str(a_path), "created": a["meta"].get("created"), "count": len(a_rows)},
        "b": {"path": str(b_path), "created": b["meta"].get("created"), "count": len(b_rows)},
        "setup_changed": _setup_changes(a["meta"], b["meta"]),
        "part": " ".join(part) if part else "overall",
        "metrics": {key: [_metric(metrics[0].get(key)), _metric(metrics[1].get(key))] for _, key, _ in _COLUMNS},
        "questions": questions,
        "unchanged": sum(q in a_rows for q in b_rows) - len(questions),
        "only_in_a": [q for q in a_rows if q not in b_rows],
        "only_in_b": [q for q in b_rows if q not in a_rows],
    }


def _metric(value):
    """A metric as a report holds it, a number or None; anything else (a report edited by hand)
    is refused here rather than failing when the table is printed."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise TypeError(f"a metric is {value!r}, not a number")


def format_comparison(comparison: dict) -> str:
    a, b = comparison["a"], comparison["b"]
    lines = [f"A: {a['path']} ({a['count']} questions, {a['created']})",
             f"B: {b['path']} ({b['count']} questions, {b['created']})"]
    lines += [f"changed: {key} {va} -> {vb}" for key, (va, vb) in comparison["setup_changed"].items()]
    table = [("metric", "A", "B", "change")]
    for header, key, fmt in _COLUMNS:
        va, vb = comparison["metrics"][key]
        table.append((header, _cell(va, fmt), _cell(vb, fmt), _delta(va, vb, fmt)))
    lines += ["", comparison["part"], _align(table)]
    for verdict in ("improved", "regressed", "mixed", "changed"):
        moved = [q for q in comparison["questions"] if q["verdict"] == verdict]
        if moved:
            lines += ["", f"{verdict} ({len(moved)})"]
            lines += [f"  {q['id']}  {q['kind']}: {'; '.join(q['changes'])}" for q in moved]
    lines += ["", f"unchanged (same answer text, same outcomes): {comparison['unchanged']} questions"]
    for side in ("a", "b"):
        if comparison[f"only_in_{side}"]:
            lines.append(f"only in {side.upper()}: {', '.join(map(str, comparison[f'only_in_{side}']))}")
    return "\n".join(lines)


def _load(path: str | Path) -> dict:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: not JSON, or not UTF-8
        raise BadInputError(f"cannot read report {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(report, dict) or not {"meta", "summary", "rows"} <= set(report):
        raise BadInputError(f"{path} is not a `rag eval --json` report (it needs meta, summary and rows)")
    return report


def _changes(a: dict, b: dict) -> list[tuple[int, str]]:
    """(+1 better / -1 worse / 0 neither, description) for each outcome that moved between two rows."""
    changes = []
    if a["correct"] != b["correct"]:
        changes.append((1, "wrong -> right") if b["correct"] else (-1, "right -> wrong"))
    if a["answerable"] and a["gold_rank"] != b["gold_rank"]:
        # Not retrieved within the ranking at all is worse than any rank.
        worse = (b["gold_rank"] or float("inf")) > (a["gold_rank"] or float("inf"))
        changes.append((-1 if worse else 1, f"gold rank {_rank(a['gold_rank'])} -> {_rank(b['gold_rank'])}"))
    # None on one side means a declined answer: the right/wrong change already tells it.
    pa, pb = _precision(a), _precision(b)
    if None not in (pa, pb) and pa != pb:
        changes.append((1 if pb > pa else -1, f"citation precision {pa:.0%} -> {pb:.0%}"))
    ra, rb = a.get("citations_cover_gold"), b.get("citations_cover_gold")
    if None not in (ra, rb) and ra != rb:
        changes.append((1, "now cites gold evidence") if rb else (-1, "no longer cites gold evidence"))
    if a.get("answer") != b.get("answer"):
        changes.append((0, "answer text changed"))
    return changes


def _precision(row: dict) -> float | None:
    cited = row.get("cited_sentences")
    return row["cited_on_evidence"] / cited if cited else None


def _rank(rank: int | None) -> str:
    return str(rank) if rank else f">{max(RECALL_AT)}"


def _setup_changes(a: dict, b: dict) -> dict:
    flat_a, flat_b = _flatten({k: a.get(k) for k in _SETUP}), _flatten({k: b.get(k) for k in _SETUP})
    return {k: [flat_a.get(k), flat_b.get(k)] for k in dict.fromkeys([*flat_a, *flat_b])
            if flat_a.get(k) != flat_b.get(k)}


def _flatten(meta: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in meta.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _align(lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join([line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])]).rstrip()
        for line in lines
    )


def _cell(value, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "%":
        return f"{value:.0%}"
    if fmt == "s":
        return f"{value:.1f}s"
    return format(round(value) if fmt == "d" else value, fmt)


def _delta(a, b, fmt: str) -> str:
    if a is None or b is None:
        return ""
    if fmt == "%":
        return f"{(b - a) * 100:+.0f} pts"
    if fmt == "s":
        return f"{b - a:+.1f}s"
    return format(round(b - a) if fmt == "d" else b - a, "+" + fmt)
