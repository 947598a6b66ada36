"""The eval metrics on hand-made cases whose right value is worked out in the comments. No model."""

import numpy as np
import pytest

from rag.errors import BadInputError
from rag.evaluation.metrics import (
    Span,
    best_f1,
    cited_spans,
    contains_answer,
    gold_rank,
    grade_citations,
    normalize_answer,
    percentile,
    recall_at,
    token_f1,
)
from rag.schema import Citation

# --- answer accuracy


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
        ("£80,000 and €5 or $250", "80000 and 5 or 250"),  # every currency sign, not only ASCII's "$"
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
    assert contains_answer("He was fined 80,000 pounds [1].", ["£80,000"])  # the sign, or the word
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


# --- retrieval

RANKED = ["b.txt", "b.txt", "a.txt", "c.txt", "b.txt", "d.txt"]  # sources of passages, best first


def test_gold_rank_is_the_first_passage_from_any_gold_source():
    assert gold_rank(RANKED, ["a.txt"]) == 3
    assert gold_rank(RANKED, ["c.txt", "b.txt"]) == 1
    assert gold_rank(RANKED, ["z.txt"]) is None
    assert gold_rank([], ["a.txt"]) is None


def test_recall_at_k_counts_gold_sources_not_passages():
    assert [recall_at(RANKED, ["a.txt"], k) for k in (1, 3, 5, 10)] == [0.0, 1.0, 1.0, 1.0]
    # two gold articles: b at rank 1, c only at rank 4
    assert [recall_at(RANKED, ["b.txt", "c.txt"], k) for k in (1, 3, 5)] == [0.5, 0.5, 1.0]
    # b fills three of the top five, but it is one article of two
    assert recall_at(RANKED, ["b.txt", "z.txt"], 5) == 0.5
    with pytest.raises(BadInputError, match="gold source"):
        recall_at(RANKED, [], 3)


# --- citations


# A passage of lyon.txt (characters 100-193) with two sentences: 100-149 and 150-193.
MEETING, DAM = Span("lyon.txt", 100, 149), Span("lyon.txt", 150, 193)


def _citation(n, source="lyon.txt", start=100, end=193, highlight=None, highlights=()):
    return Citation(n=n, source=source, title="T", chunk_id=f"c{n}", quote="x" * (end - start), start=start,
                    end=end, highlights=[highlight] if highlight else list(highlights))


def test_a_citation_points_at_its_highlighted_sentences_else_its_passage():
    assert cited_spans(_citation(1, highlight=(150, 193))) == [DAM]
    assert cited_spans(_citation(1, highlights=[(100, 149), (150, 193)])) == [MEETING, DAM]
    assert cited_spans(_citation(1)) == [Span("lyon.txt", 100, 193)]  # no highlight: the whole passage


def test_spans_overlap_only_within_one_file():
    assert MEETING.overlaps(Span("lyon.txt", 140, 160)) and not MEETING.overlaps(DAM)  # 149 < 150: touching only
    assert not MEETING.overlaps(Span("paris.txt", 100, 149))


def test_grade_citations_against_gold_evidence():
    on_gold = _citation(1, highlight=(150, 193))
    on_context = _citation(2, highlight=(100, 149))
    elsewhere = _citation(3, source="weather.txt", start=0, end=52, highlight=(0, 52))
    # the gold sentence is DAM: one of three citations points at it
    assert grade_citations([on_gold, on_context, elsewhere], [DAM]) == {
        "cited": 3, "on_evidence": 1, "covers_gold": True}
    # a person marked the meeting sentence as also supporting: precision counts it, recall does not
    assert grade_citations([on_context], [DAM], also=[MEETING]) == {
        "cited": 1, "on_evidence": 1, "covers_gold": False}
    # a whole-passage citation overlaps every sentence of its passage
    assert grade_citations([_citation(1)], [DAM]) == {"cited": 1, "on_evidence": 1, "covers_gold": True}
    assert grade_citations([], [DAM]) == {"cited": 0, "on_evidence": 0, "covers_gold": False}
    # two claims cite one passage, each highlighting its sentence: one citation, on the evidence
    both = _citation(1, highlights=[(100, 149), (150, 193)])
    assert grade_citations([both], [DAM]) == {"cited": 1, "on_evidence": 1, "covers_gold": True}


def test_percentile_interpolates_like_numpy():
    values = [3.0, 0.4, 1.0, 2.0, 0.5]
    for q in (0.0, 0.5, 0.9, 1.0):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q * 100)))
    assert percentile([], 0.5) is None
