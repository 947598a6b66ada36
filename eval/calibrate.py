"""Fit rag.decline's weights and threshold from eval reports run without the calibrated decline.

    RAG_CALIBRATED_DECLINE=false rag eval --split dev --json /tmp/dev.json
    RAG_CALIBRATED_DECLINE=false rag eval --squad ../shared/data/squad2-dev-part.json --seed 1 --limit 100 \
        --json /tmp/squad-seed1.json        # and the same with --seed 2 into /tmp/squad-seed2.json
    python eval/calibrate.py /tmp/dev.json /tmp/squad-seed1.json /tmp/squad-seed2.json

Only tuning data goes in: dev rows (a report's test rows are dropped) and SQuAD samples other
than the reported seed 0 (less the questions they share with it). Each row gives the two signals
(`decline_logprob`, `top_score`) and whether the question is answerable. A logistic regression,
with both classes weighted equally, gives P(unanswerable). A question is declined early (no
passage close enough), by the calibration, or, when the calibration lets it through, by the
generator and the answer check as before; so the threshold is the lowest one at which the
calibration adds at most --max-added false declines (a share of the pooled answerable questions)
to those the pipeline makes anyway: as many more unanswerable questions declined as that allows.
"""

from __future__ import annotations

import argparse
import json
import math
from functools import cache
from pathlib import Path

import numpy as np

FEATURES = ["decline_logprob", "top_score"]


def load_rows(paths: list[Path]) -> list[dict]:
    rows, seen = [], set()
    for path in paths:
        report = json.loads(path.read_text(encoding="utf-8"))
        reported = reported_sample(report["meta"]["squad"]["path"]) if report["meta"].get("squad") else frozenset()
        for row in report["rows"]:
            if row.get("split") == "test" or row["id"] in reported:
                continue  # never tuned on
            if row["id"] in seen:
                continue  # two SQuAD samples share some questions: each counts once
            seen.add(row["id"])
            rows.append(row | {"file": path.name})
    return rows


@cache  # two tuning samples of one file share its reported sample
def reported_sample(squad_file: str) -> frozenset[str]:
    """The questions of the reported SQuAD sample (seed 0): another seed's sample shares a few of
    them (7 of seed 1's 100), which must not be tuned on either."""
    from rag.evaluation.questions import select_questions
    from rag.evaluation.squad import SAMPLE_SIZE, load_squad

    return frozenset(q.id for q in select_questions(load_squad(squad_file).questions, limit=SAMPLE_SIZE, seed=0))


def fit(x: np.ndarray, y: np.ndarray, steps: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method, classes weighted equally, a little L2 for
    stability; returns [bias, *weights] for standardised-free raw features."""
    design = np.hstack([np.ones((len(x), 1)), x])
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    beta = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (weight * (p - y)) + 1e-3 * beta
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + 1e-3 * np.eye(len(beta))
        beta -= np.linalg.solve(hessian, gradient)
    return beta


def figures(rows: list[dict], declined: list[bool]) -> str:
    answerable = [d for r, d in zip(rows, declined) if r["answerable"]]
    unanswerable = [d for r, d in zip(rows, declined) if not r["answerable"]]
    return (f"unanswerable declined {sum(unanswerable)}/{len(unanswerable)} "
            f"({100 * sum(unanswerable) / max(1, len(unanswerable)):.0f}%), false declines "
            f"{sum(answerable)}/{len(answerable)} ({100 * sum(answerable) / max(1, len(answerable)):.0f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--max-added", type=float, default=0.05,
                        help="false declines the calibration may add, as a share of answerable questions "
                             "(default 0.05)")
    args = parser.parse_args()

    rows = load_rows(args.reports)
    scored = [r for r in rows if r.get("decline_logprob") is not None]
    x = np.array([[r[f] for f in FEATURES] for r in scored], dtype=float)
    y = np.array([0.0 if r["answerable"] else 1.0 for r in scored])
    beta = fit(x, y)
    probability = {id(r): 1 / (1 + math.exp(-(beta[0] + beta[1:] @ x[i]))) for i, r in enumerate(scored)}

    def decisions(threshold: float) -> list[bool]:
        # Declined before the model (no score), by the calibration, or by the pipeline anyway.
        return [r.get("decline_logprob") is None or r["abstained"] or probability[id(r)] >= threshold
                for r in rows]

    answerable = sum(r["answerable"] for r in rows)
    anyway = sum(d for r, d in zip(rows, decisions(1.01)) if r["answerable"])
    best = 1.01  # above every probability: the calibration declines nothing
    for threshold in sorted({round(p, 4) for p in probability.values()}, reverse=True):
        false = sum(d for r, d in zip(rows, decisions(threshold)) if r["answerable"])
        if (false - anyway) / answerable > args.max_added:
            break
        best = threshold
    print(f"{len(rows)} rows ({len(scored)} scored) from {', '.join(p.name for p in args.reports)}")
    print(f"BIAS = {beta[0]:.3f}")
    print("WEIGHTS = {" + ", ".join(f'"{f}": {w:.3f}' for f, w in zip(FEATURES, beta[1:])) + "}")
    print(f"THRESHOLD = {best:.4f}")
    chosen = decisions(best)
    for name in dict.fromkeys(r["file"] for r in rows):
        subset = [i for i, r in enumerate(rows) if r["file"] == name]
        part = [rows[i] for i in subset]
        print(f"{name}: the generator alone: {figures(part, [bool(r['abstained']) for r in part])}")
        print(f"{name}: calibrated:        {figures(part, [chosen[i] for i in subset])}")


if __name__ == "__main__":
    main()
