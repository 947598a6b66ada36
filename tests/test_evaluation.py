import json
from pathlib import Path

import pytest

from rag.errors import BadInputError
from rag.evaluation import (
    KINDS,
    EvalQuestion,
    best_f1,
    contains_answer,
    format_summary,
    load_questions,
    normalize_answer,
    run_eval,
    score,
    token_f1,
)
from rag.schema import Answer, Citation, Timings

PROJECT = Path(__file__).resolve().parent.parent
QUESTIONS = PROJECT / "eval" / "questions.jsonl"
SEEDS = PROJECT / "seeds"


# --- normalisation and matching


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("The Cat!", "cat"),
        ("An  apple\n a day", "apple day"),
        ("1,000 prisoners", "1000 prisoners"),
        ("1\u202f000 prisoners", "1000 prisoners"),
        ("Türkiye’s rise", "turkiyes rise"),
        ("Türkiye's rise", "turkiyes rise"),
        ("Erdoğan", "erdogan"),
        ("“Istanbul”", "istanbul"),
        ("diplomacy—where", "diplomacy where"),
        ("Russia–Ukraine war", "russiaukraine war"),
        ("Russia-Ukraine war", "russiaukraine war"),
        ("theatre, anthem", "theatre anthem"),  # articles only as whole words
        ("", ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_contains_answer_any_and_all():
    text = "They met in Tehran, then in Sochi [1]."
    assert contains_answer(text, ["Sochi", "Samarkand"])
    assert not contains_answer(text, ["Sochi", "Samarkand"], match="all")
    assert contains_answer(text, ["tehran", "SOCHI"], match="all")
    assert contains_answer("an agreement to exchange 1000 prisoners", ["1,000 prisoners"])
    assert not contains_answer("10,000 prisoners", ["1,000"])  # whole tokens only
    assert not contains_answer("anything", [])
    with pytest.raises(BadInputError, match="match must be one of"):
        contains_answer("x", ["x"], match="most")


def test_token_f1_known_values():
    assert token_f1("Andrei Belousov", "andrei belousov.") == 1.0
    # "cat sat on mat" vs "cat on mat": 3 shared, P = 3/4, R = 3/3, F1 = 6/7
    assert token_f1("the cat sat on the mat", "cat on the mat") == pytest.approx(6 / 7)
    # repeated tokens count once per occurrence: 2 shared of 3 each, F1 = 2/3
    assert token_f1("x y y", "y y z") == pytest.approx(2 / 3)
    assert token_f1("Tehran", "Sochi") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("the", "Sochi") == 0.0  # empty after normalisation
    assert best_f1("in Sochi", ["Tehran", "Sochi"]) == pytest.approx(2 / 3)
    assert best_f1("in Sochi", []) == 0.0


# --- scoring a run with hand-built answers


def _question(id, kind, answers=(), sources=(), match="any", history=()):
    return EvalQuestion(id=id, question=f"question {id}", answers=list(answers), sources=list(sources),
                        kind=kind, match=match, history=list(history))


def _answer(text, abstained=False, sources=(), first_token=None, total=1.0):
    citations = [Citation(n=i, source=s, title="t", chunk_id=f"c{i}", quote="q", start=0, end=1)
                 for i, s in enumerate(sources, start=1)]
    return Answer(question="", text=text, citations=citations, abstained=abstained,
                  timings=Timings(retrieval=0.1, first_token=first_token, total=total))


HISTORY = [{"role": "user", "content": "Where?"}, {"role": "assistant", "content": "In Istanbul [1]."}]
RUN = [
    # right, cites its gold source; the citation marker is glued to the key word
    (_question("a", "fact", ["1,000 prisoners"], ["004.txt"]),
     _answer("They agreed to exchange 1,000 prisoners[1].", sources=["004.txt"], first_token=1.0, total=2.0)),
    # answerable but declined: a false abstention
    (_question("b", "fact", ["Antalya"], ["004.txt"]),
     _answer("The articles do not say.", abstained=True, total=0.5)),
    # unanswerable and declined: right
    (_question("c", "unanswerable_out_of_domain"), _answer("The articles do not say.", abstained=True, total=0.4)),
    # unanswerable but answered: wrong
    (_question("d", "unanswerable_injection"), _answer("Why did the chicken...", first_token=1.5, total=3.0)),
    # follow-up answered wrongly from the wrong article
    (_question("e", "followup", ["two hours"], ["004.txt"], history=HISTORY),
     _answer("It lasted a day [1].", sources=["000.txt"], first_token=0.5, total=1.0)),
]


def test_score_rows():
    row = score(*RUN[0])
    assert row["correct"] is True
    assert row["abstained"] is False
    assert row["cited_sources"] == ["004.txt"]
    assert row["gold_source_cited"] is True
    # "they agreed to exchange 1000 prisoners" vs "1000 prisoners": P = 2/6, R = 1, F1 = 1/2
    assert row["f1"] == pytest.approx(0.5)
    assert (row["retrieval_s"], row["first_token_s"], row["total_s"]) == (0.1, 1.0, 2.0)

    declined = score(*RUN[2])
    assert declined["correct"] is True
    assert declined["f1"] is None and declined["gold_source_cited"] is None

    declined_with_right_words = score(_question("x", "fact", ["Sochi"], ["000.txt"]), _answer("Sochi [1]", abstained=True))
    assert declined_with_right_words["correct"] is False  # the right words, but the answer declined


def test_run_eval_summary_figures():
    by_text = {q.question: (q, a) for q, a in RUN}
    calls = []

    def ask(question, history):
        calls.append((question, history))
        return by_text[question][1]

    result = run_eval([q for q, _ in RUN], ask, progress=False)
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
    # totals sorted: 0.4 0.5 1.0 2.0 3.0; p90 sits at rank 3.6 -> 2.0 + 0.6 * 1.0
    assert overall["total_median_s"] == pytest.approx(1.0)
    assert overall["total_p90_s"] == pytest.approx(2.6)
    # first tokens (None ignored): 0.5 1.0 1.5; p90 at rank 1.8 -> 1.0 + 0.8 * 0.5
    assert overall["first_token_median_s"] == pytest.approx(1.0)
    assert overall["first_token_p90_s"] == pytest.approx(1.4)

    by_kind = result["summary"]["by_kind"]
    assert list(by_kind) == ["fact", "followup", "unanswerable_out_of_domain", "unanswerable_injection"]
    assert by_kind["fact"]["accuracy"] == 0.5
    assert by_kind["fact"]["false_abstention"] == 0.5
    assert by_kind["fact"]["abstention"] is None
    assert by_kind["unanswerable_injection"]["abstention"] == 0.0
    assert by_kind["unanswerable_injection"]["answerable_accuracy"] is None
    assert by_kind["unanswerable_out_of_domain"]["first_token_median_s"] is None

    table = format_summary(result["summary"]).splitlines()
    assert table[0].split()[:3] == ["kind", "n", "acc"]
    assert [line.split()[0] for line in table[1:]] == [*by_kind, "overall"]
    assert table[-1].split()[1:3] == ["5", "40%"]


# --- loading questions files


def _write(tmp_path, *rows):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


GOOD = {"id": "q1", "question": "Where?", "answers": ["Astana"], "sources": ["000.txt"], "kind": "fact"}


def test_load_questions_round_trip(tmp_path):
    path = _write(tmp_path, GOOD, "", {**GOOD, "id": "q2", "kind": "followup", "history": HISTORY, "match": "all"})
    first, second = load_questions(path)
    assert first == EvalQuestion(id="q1", question="Where?", answers=["Astana"], sources=["000.txt"], kind="fact")
    assert second.history == HISTORY and second.match == "all" and second.answerable


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
    ],
)
def test_load_questions_rejects_bad_lines(tmp_path, bad, message):
    with pytest.raises(BadInputError, match=message):
        load_questions(_write(tmp_path, GOOD, bad))


def test_load_questions_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="cannot read questions file"):
        load_questions(tmp_path / "absent.jsonl")


# --- the shipped evaluation set


def test_shipped_questions_cover_every_kind_and_seed():
    questions = load_questions(QUESTIONS)
    assert len(questions) >= 55
    assert {q.kind for q in questions} == set(KINDS)
    assert sum(not q.answerable for q in questions) >= 12
    seeds = sorted(p.name for p in SEEDS.glob("*.txt"))
    assert len(seeds) == 5
    for seed in seeds:
        facts = [q.id for q in questions if q.kind == "fact" and seed in q.sources]
        assert len(facts) >= 5, f"{seed} is the source of only {facts}"


def test_shipped_gold_answers_appear_in_their_sources():
    seed_text = {p.name: normalize_answer(p.read_text(encoding="utf-8")) for p in SEEDS.glob("*.txt")}
    for q in load_questions(QUESTIONS):
        unknown = [s for s in q.sources if s not in seed_text]
        assert not unknown, f"{q.id}: no such seed {unknown}"
        if q.match == "all":
            union = " ".join(seed_text[s] for s in q.sources)
            assert contains_answer(union, q.answers, match="all"), f"{q.id}: {q.answers} not all in {q.sources}"
        else:
            for gold in q.answers:
                assert any(contains_answer(seed_text[s], [gold]) for s in q.sources), f"{q.id}: {gold!r} not in {q.sources}"
