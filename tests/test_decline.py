"""The decline decision: its fit (eval/calibrate.py) and, with the real models, its outcome on a
small fixed set of dev questions (two answerable, two the articles cannot answer)."""

import dataclasses
import importlib.util
import json

import numpy as np
import pytest

import rag
from rag.config import PROJECT_DIR, load_settings
from rag.decline import YES_MARGIN, declines, doubts_yes, unanswerable
from rag.evaluation.squad import load_squad
from rag.prompt import CORRECTION, NOT_COVERED


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
    assert answer.declined_by == "calibration"
    assert declines(answer.decline_logprob, max(hit.score for hit in answer.hits))


def test_a_yes_is_doubted_when_the_model_hardly_prefers_it_to_no():
    assert doubts_yes(-0.5 - -2.0)  # "Yes" about 4.5 times as likely as "No"
    assert not doubts_yes(-0.1 - -5.0)  # about 130 times
    assert doubts_yes(-3.0 - -0.5)  # "No" likelier


@pytest.mark.slow
def test_a_yes_to_a_false_premise_is_withdrawn_and_a_yes_the_article_states_is_kept(settings):
    """eval/yesno.jsonl's dev rows y003 and y004 over the seed articles: the 000 article says the
    Astana meeting was their fourth that year, and the model answered "Yes, the meeting in Astana
    was the first ..." (a margin of 2.6 on the AMD EPYC machine), which is withdrawn; asked once
    more, it names the ordinal (README step 12). 003 says Ukraine agreed to attend (4.2)."""
    false_premise = rag.ask("Was the meeting in Astana the first between Putin and Erdogan that year?",
                            settings=settings)
    assert false_premise.raw_text.startswith("Yes") and false_premise.yes_margin < YES_MARGIN
    assert false_premise.text.startswith(CORRECTION) and "fourth" in false_premise.text
    stated = rag.ask("Did Ukraine agree to attend the meeting in Istanbul?", settings=settings)
    assert not stated.abstained and stated.text.startswith("Yes") and stated.yes_margin >= YES_MARGIN
    assert stated.citations[0].source == "003_1ca7cd9bf0959689.txt"


# A short obituary written for the test (the BBC archive's is not in the repository).
OBITUARY = "\n\n".join([
    "Comedian Cyril Fletcher dies at 91",
    "The comedian and broadcaster Cyril Fletcher has died at his home in Guernsey. He was 91.",
    "Fletcher became a household name in the 1970s and 1980s reading viewers' comic poems and newspaper "
    "misprints on the BBC consumer programme That's Life. Before television he spent decades on the variety "
    'stage and on radio, where his "Odd Odes" made him famous in the late 1930s.',
    "Esther Rantzen, who presented That's Life, said he had been a delight to work with and a true gentleman. "
    "His family said he died peacefully on Friday after a short illness.",
    "Fletcher moved to Guernsey in the 1980s, where he was a keen gardener and opened his garden to the public "
    "for charity. He is survived by his daughter. His wife, the actress Betty Astell, died in 1999.",
]) + "\n"


@pytest.fixture(scope="module")
def obituary(tmp_path_factory):
    """Settings whose index holds OBITUARY alone."""
    folder = tmp_path_factory.mktemp("obituary")
    (folder / "articles").mkdir()
    (folder / "articles" / "fletcher.txt").write_text(OBITUARY, encoding="utf-8")
    settings = load_settings(index_dir=folder / "index")
    rag.build_index(folder / "articles", settings=settings, progress=False)
    return settings


@pytest.mark.slow
def test_a_false_premise_is_answered_no_with_what_the_article_says_and_a_silent_one_is_declined(obituary):
    """Step 10's "No, in fact,": asked whether he was 85, the model answered "The comedian Cyril
    Fletcher died at 91 [1]", its second opinion withdrew it, and the reply asked for once more
    named the age (AMD EPYC, 2026-12-06). The article never mentions a funeral: the reply asked
    for then only denies ("No, in fact, Esther Rantzen did not attend ..."), and is not kept."""
    streamed = list(rag.ask_stream("Was Cyril Fletcher 85 when he died?", settings=obituary))
    false_premise = streamed[-1]
    assert isinstance(streamed[-2], rag.Correcting)  # said while the model is asked once more
    assert not false_premise.abstained and false_premise.text.startswith(CORRECTION)
    assert "91" in false_premise.text and false_premise.yes_margin < YES_MARGIN
    assert [c.source for c in false_premise.citations] == ["fletcher.txt"]
    silent = rag.ask("Did Esther Rantzen attend Cyril Fletcher's funeral?", settings=obituary)
    assert silent.abstained and silent.correction.startswith(CORRECTION)


@pytest.mark.slow
def test_a_false_premise_the_calibration_declines_is_still_answered_with_what_is_so(obituary, monkeypatch):
    """Over a crowded index the calibration declines some false premises before the model writes
    (three of the BBC yes/no set's, eval/news/bbc-yesno.jsonl: "Did Chris Tarrant leave Capital FM
    after 25 years?", the article saying 17). Such a question is still asked for "No, in fact,";
    any other question the calibration declines is declined without the model writing. Here the
    calibration is made to decline: over one article it would not."""
    monkeypatch.setattr("rag.pipeline.declines", lambda decline_logprob, top_score: True)
    streamed = list(rag.ask_stream("Was Cyril Fletcher 85 when he died?", settings=obituary))
    corrected = streamed[-1]
    assert streamed[-3:-1] == [NOT_COVERED, rag.Correcting()]  # the decline streams, then may change
    assert corrected.completion_tokens == 0 and not corrected.raw_text  # no answer was written before
    assert not corrected.abstained and corrected.text.startswith(CORRECTION) and "91" in corrected.text
    assert [c.source for c in corrected.citations] == ["fletcher.txt"]
    asked = rag.ask("How old was Cyril Fletcher when he died?", settings=obituary)
    assert asked.abstained and asked.completion_tokens == 0 and not asked.correction
    assert asked.declined_by == "calibration" and corrected.declined_by is None
