"""The decline decision: its fit (eval/calibrate.py) and, with the real models, its outcome on a
small fixed set of dev questions (two answerable, two the articles cannot answer)."""

import dataclasses
import importlib.util
import json

import numpy as np
import pytest

import rag
from rag.config import PROJECT_DIR
from rag.decline import YES_MARGIN, declines, doubts_yes, unanswerable
from rag.evaluation.squad import load_squad


def _calibrate():
    spec = importlib.util.spec_from_file_location("calibrate", PROJECT_DIR / "eval" / "calibrate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fit_separates_what_the_two_signals_separate():
    rng = np.random.default_rng(0)
    # Unanswerable: the decline likely and the best passage far; answerable: the reverse.
    unanswerable_rows = np.column_stack([rng.normal(-1.5, 0.5, 60), rng.normal(0.35, 0.1, 60)])
    answerable_rows = np.column_stack([rng.normal(-6.0, 1.5, 60), rng.normal(0.65, 0.1, 60)])
    beta = _calibrate().fit(np.vstack([unanswerable_rows, answerable_rows]), np.array([1.0] * 60 + [0.0] * 60))
    assert beta[1] > 0 and beta[2] < 0  # likelier decline -> unanswerable; closer passage -> answerable
    p = 1 / (1 + np.exp(-(beta[0] + np.vstack([unanswerable_rows, answerable_rows]) @ beta[1:])))
    assert (p[:60] >= 0.5).mean() > 0.9 and (p[60:] < 0.5).mean() > 0.9


def test_the_fit_never_sees_the_test_split_or_the_reported_squad_sample_and_counts_a_question_once(tmp_path):
    squad_file = PROJECT_DIR / "tests" / "fixtures" / "squad_v2_tiny.json"
    reported = load_squad(squad_file).questions[0].id  # the tiny file's seed-0 sample is all of it
    squad_report = tmp_path / "squad-seed1.json"
    squad_report.write_text(json.dumps({"meta": {"squad": {"path": str(squad_file)}},
                                        "rows": [{"id": reported}, {"id": "only-in-this-sample"}]}))
    dev_report = tmp_path / "dev.json"
    dev_report.write_text(json.dumps({"meta": {}, "rows": [{"id": "q001", "split": "dev"},
                                                           {"id": "q003", "split": "test"}]}))
    other_seed = tmp_path / "squad-seed2.json"  # shares a question with the first sample
    other_seed.write_text(json.dumps({"meta": {"squad": {"path": str(squad_file)}},
                                      "rows": [{"id": "only-in-this-sample"}, {"id": "only-in-seed-2"}]}))
    rows = _calibrate().load_rows([squad_report, dev_report, other_seed])
    assert [row["id"] for row in rows] == ["only-in-this-sample", "q001", "only-in-seed-2"]


def test_the_shipped_decision_leans_the_way_each_signal_points():
    assert unanswerable(-1.0, 0.5) > unanswerable(-6.0, 0.5)
    assert unanswerable(-3.0, 0.3) > unanswerable(-3.0, 0.8)
    assert declines(-0.05, 0.2) and not declines(-12.0, 0.9)


@pytest.mark.parametrize("question", [
    "How did Moscow respond to Erdogan's offer to host talks in Istanbul?",
    "What must any settlement include, according to Ukrainian officials ahead of the Istanbul round?",
])
@pytest.mark.slow
def test_answerable_dev_questions_pass_the_calibrated_decline(settings, question):
    answer = rag.ask(question, settings=dataclasses.replace(settings, calibrated_decline=True))
    assert answer.decline_logprob is not None
    assert not declines(answer.decline_logprob, max(hit.score for hit in answer.hits))
    assert not answer.abstained and answer.citations


@pytest.mark.parametrize("question", [
    "How many prisoners were exchanged in the 2022 talks?",
    # Declined with the keyword ranking of the first fit (bm25s); with FTS5's the passages shown
    # differ, and the refits since (the latest on four SQuAD samples, 2026-11-24) give it
    # P(unanswerable) 0.63, below the threshold of 0.708 that keeps added false declines within
    # 5%. A miss of the calibration, not a stale fit; strict: it fails once it passes.
    pytest.param("What did Trump and Putin agree at their summit?",
                 marks=pytest.mark.xfail(strict=True, reason="P(unanswerable) 0.63 is below the threshold")),
])
@pytest.mark.slow
def test_near_miss_dev_questions_are_declined_before_the_model_writes(settings, question):
    answer = rag.ask(question, settings=dataclasses.replace(settings, calibrated_decline=True))
    assert answer.abstained and answer.completion_tokens == 0  # declined by the calibration, not by writing
    assert declines(answer.decline_logprob, max(hit.score for hit in answer.hits))


def test_a_yes_is_doubted_when_the_model_hardly_prefers_it_to_no():
    assert doubts_yes(-0.5, -2.0)  # "Yes" about 4.5 times as likely as "No"
    assert not doubts_yes(-0.1, -5.0)  # about 130 times
    assert doubts_yes(-3.0, -0.5)  # "No" likelier


@pytest.mark.slow
def test_a_yes_to_a_false_premise_is_withdrawn_and_a_yes_the_article_states_is_kept(settings):
    """eval/yesno.jsonl's dev rows y003 and y004 over the seed articles: the 000 article says the
    Astana meeting was their fourth that year, and the model answered "Yes, the meeting in Astana
    was the first ..." (a margin of 2.6 on the AMD EPYC machine); 003 says Ukraine agreed to attend
    (4.2)."""
    false_premise = rag.ask("Was the meeting in Astana the first between Putin and Erdogan that year?",
                            settings=settings)
    assert false_premise.abstained and false_premise.yes_margin < YES_MARGIN
    assert false_premise.withdrawn and false_premise.withdrawn[0].startswith("Yes")
    assert "as likely as" in false_premise.why_withdrawn
    stated = rag.ask("Did Ukraine agree to attend the meeting in Istanbul?", settings=settings)
    assert not stated.abstained and stated.text.startswith("Yes") and stated.yes_margin >= YES_MARGIN
    assert stated.citations[0].source == "003_1ca7cd9bf0959689.txt"
