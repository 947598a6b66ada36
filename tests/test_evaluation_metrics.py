"""The eval metrics on hand-made cases whose right value is worked out in the comments. No model:
where an embedding is needed, hand-picked vectors stand in for it."""

import math

import numpy as np
import pytest

from rag.errors import BadInputError
from rag.evaluation_metrics import (
    SUPPORT_COSINE,
    best_f1,
    citation_checks,
    citation_precision,
    citation_recall,
    contains_answer,
    gold_rank,
    normalize_answer,
    percentile,
    recall_at,
    split_sentences,
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


def test_split_sentences_as_articles_are():
    assert split_sentences("First claim [1]. Second one? Yes!\nA list line\n\n  ") == [
        "First claim [1].", "Second one?", "Yes!", "A list line"]
    # the same splitter as the articles': an abbreviation does not end a sentence
    assert split_sentences("U.S. officials met. Then they left.") == ["U.S. officials met.", "Then they left."]
    assert split_sentences("") == []


DAM = Citation(n=1, source="lyon.txt", title="Flood relief talks", chunk_id="c1",
               quote="Officials from both towns met in Lyon on 3 March. They agreed to share the cost of a new dam.",
               start=0, end=93)
RAIN = Citation(n=2, source="weather.txt", title="Regional weather", chunk_id="c2",
                quote="Heavy rain is expected across the valley next week.", start=0, end=52)
PLANS = Citation(n=1, source="plans.txt", title="Plans", chunk_id="c3", quote="Engineers drew the plans.",
                 start=0, end=25)


def _unit(*xs):
    # Not renormalised: rounding would move a dot product set to exactly the threshold.
    assert math.isclose(sum(x * x for x in xs), 1.0)
    return np.array(xs)


# Hand-picked "embeddings": the passage vectors are axes, so each dot product is the coordinate.
VECTORS = {
    f"{DAM.title}\n{DAM.quote}": _unit(1, 0, 0),
    f"{RAIN.title}\n{RAIN.quote}": _unit(0, 1, 0),
    "The towns agreed to share the cost of a new dam.": _unit(1, 0, 0),
    "The project was funded by the regional government.": _unit(0, 0.2, math.sqrt(1 - 0.04)),
    "Both mayors were pleased.": _unit(0.8, 0.1, math.sqrt(1 - 0.64 - 0.01)),
    "Officials from both towns met in Lyon on 4 March.": _unit(0, 0, 1),
    "Officials from both towns met in Lyon on 3 March.": _unit(0, 0, 1),
    "The dam will cost 1,000 euros.": _unit(1, 0, 0),
    "Rain is coming.": _unit(0, 0.9, math.sqrt(1 - 0.81)),
    f"{PLANS.title}\n{PLANS.quote}": _unit(1, 0, 0),
    "It is huge.": _unit(SUPPORT_COSINE, 0, math.sqrt(1 - SUPPORT_COSINE**2)),
    "It is tiny.": _unit(SUPPORT_COSINE - 0.01, 0, math.sqrt(1 - (SUPPORT_COSINE - 0.01) ** 2)),
}


def fake_embed(texts):
    return np.stack([VECTORS[t] for t in texts])  # a KeyError here: an unexpected text was embedded


def test_citation_checks_lexical_or_embedding_support():
    text = ("The towns agreed to share the cost of a new dam [1]. The project was funded by the regional "
            "government [2]. Both mayors were pleased [1][2]. Rain is coming.")
    checks = citation_checks(text, [DAM, RAIN], fake_embed)
    assert checks == [
        # lexical 6/6 content words in the passage
        {"sentence": "The towns agreed to share the cost of a new dam.", "cited": [1], "supported": [1]},
        # lexical 1/4 ("regional", from the title), cosine 0.2: not supported
        {"sentence": "The project was funded by the regional government.", "cited": [2], "supported": []},
        # lexical 0, but cosine 0.8 with [1] (0.1 with [2]): a paraphrase the embedding rescues
        {"sentence": "Both mayors were pleased.", "cited": [1, 2], "supported": [1]},
        # cosine 0.9 with [2], but no citation: nothing to support
        {"sentence": "Rain is coming.", "cited": [], "supported": []},
    ]
    assert citation_precision(checks) == pytest.approx(2 / 4)  # 2 of 4 (sentence, citation) pairs
    assert citation_recall(checks) == pytest.approx(2 / 4)  # 2 of 4 sentences


def test_cosine_threshold_is_inclusive():
    # No word in common with the passage, so the cosine alone decides.
    checks = citation_checks("It is huge [1]. It is tiny [1].", [PLANS], fake_embed)
    assert [c["supported"] for c in checks] == [[1], []]  # cosine 0.60 supports, 0.59 does not


def test_a_number_missing_from_the_passage_is_not_supported():
    text = ("Officials from both towns met in Lyon on 4 March [1]. Officials from both towns met in Lyon on "
            "3 March [1]. The dam will cost 1,000 euros [1].")
    checks = citation_checks(text, [DAM], fake_embed)
    # lexical 5/6 for the first two; cosine 1.0 for the third, whose number the passage lacks
    assert [c["supported"] for c in checks] == [[], [1], []]
    # a marker the pipeline left unresolved is dropped with the others: its digits are not numbers of the claim
    [check] = citation_checks("The towns agreed to share the cost of a new dam [1-4] [1].", [DAM], fake_embed)
    assert check == {"sentence": "The towns agreed to share the cost of a new dam.", "cited": [1], "supported": [1]}


def test_a_marker_without_its_citation_is_an_unsupported_citation():
    checks = citation_checks("The towns agreed to share the cost of a new dam [1][3].", [DAM], fake_embed)
    assert checks == [{"sentence": "The towns agreed to share the cost of a new dam.", "cited": [1, 3],
                       "supported": [1]}]
    assert citation_precision(checks) == 0.5
    assert citation_recall(checks) == 1.0


def test_citation_scores_of_nothing_are_none():
    assert citation_checks("", [], fake_embed) == []
    assert citation_precision([]) is None and citation_recall([]) is None
    uncited = [{"sentence": "x", "cited": [], "supported": []}]
    assert citation_precision(uncited) is None  # nothing cited: precision does not apply
    assert citation_recall(uncited) == 0.0


def test_percentile_interpolates_like_numpy():
    values = [3.0, 0.4, 1.0, 2.0, 0.5]
    for q in (0.0, 0.5, 0.9, 1.0):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q * 100)))
    assert percentile([], 0.5) is None
