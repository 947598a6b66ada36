"""Citations as a small model writes them: repaired, checked against the passages, renumbered.
No model needed: the passages and raw answers are hand-made."""

import pytest

from rag.citations import LiveRenumbering, finish, support
from rag.prompt import NOT_COVERED
from rag.schema import Chunk, Hit

PASSAGES = [
    "Heavy rain is expected across the valley next week.",
    "Officials from both towns met in Lyon on 3 March. They agreed to share the cost of a new dam.",
    "The dam will cost 1,000 million euros and take four years to build.",
]


def _hits():
    return [Hit(Chunk(id=f"c{i}", source=f"s{i}.txt", title=f"Title {i}", text=text, start=100 * i,
                      end=100 * i + len(text), position=0), score=0.5) for i, text in enumerate(PASSAGES, 1)]


@pytest.mark.parametrize("raw", [
    "The towns agreed to share the cost of a new dam [2].",
    "The towns agreed to share the cost of a new dam. [2]",
    "The towns agreed to share the cost of a new dam 【2】.",
    "The towns agreed to share the cost of a new dam (Source 2).",
    "The towns agreed to share the cost of a new dam [Source: 2].",
    "The towns agreed to share the cost of a new dam [2, 7].",
])
def test_citation_shapes_become_one_marker_before_the_stop(raw):
    text, citations, abstained = finish(raw, _hits())
    assert text == "The towns agreed to share the cost of a new dam [1]."
    assert [(c.n, c.chunk_id, c.start) for c in citations] == [(1, "c2", 200)]
    assert not abstained


def test_numbers_follow_first_use_and_only_cited_passages_are_listed():
    raw = "The dam will cost 1,000 million euros [3]. The towns met in Lyon [2]. It takes four years to build [3]."
    text, citations, _ = finish(raw, _hits())
    assert text == "The dam will cost 1,000 million euros [1]. The towns met in Lyon [2]. It takes four years to build [1]."
    assert [(c.n, c.chunk_id, c.quote) for c in citations] == [(1, "c3", PASSAGES[2]), (2, "c2", PASSAGES[1])]


def test_a_sentence_cited_to_the_wrong_passage_is_reattributed():
    text, citations, _ = finish("The towns met in Lyon on 3 March [1].", _hits())
    assert text == "The towns met in Lyon on 3 March [1]." and citations[0].chunk_id == "c2"


def test_a_supported_sentence_without_citation_gets_one():
    text, citations, _ = finish("Heavy rain is expected in the valley.", _hits())
    assert text == "Heavy rain is expected in the valley [1]." and citations[0].chunk_id == "c1"


def test_years_in_parentheses_are_not_taken_for_citations():
    text, _, _ = finish("The towns met in Lyon (2025) [2].", _hits())
    assert text == "The towns met in Lyon (2025) [1]."


@pytest.mark.parametrize("raw", [
    "The articles do not say.",
    "The passages do not mention the capital of Australia.",
    "",
    "I'm sorry, but the provided passages don't contain that information.",
    "The capital of Australia is Canberra [1].",  # outside knowledge, whatever it cites
    "Why don't scientists trust atoms? Because they make up everything!",
])
def test_declined_or_ungrounded_answers_become_abstentions(raw):
    assert finish(raw, _hits()) == (NOT_COVERED, [], True)


def test_a_cited_answer_with_a_side_remark_is_not_an_abstention():
    text, citations, abstained = finish("They agreed to share the dam cost [2]. The date of work is not mentioned.", _hits())
    assert not abstained and [c.chunk_id for c in citations] == ["c2"]


def test_support_counts_shared_content_words_with_crude_stems():
    assert support("Russian demands", "Russia demanded recognition") == 1.0
    assert support("1000 prisoners", "exchange 1,000 prisoners of war") == 1.0
    assert support("The capital is Canberra", "The dam will cost 1,000 million") == 0.0


def test_live_renumbering_matches_the_final_numbers_even_when_a_marker_is_split():
    live = LiveRenumbering(3)
    pieces = ["The dam costs 1,000 million [", "3", "]. The towns met (in 2025) in Lyon [2", "]."]
    streamed = "".join(live.feed(p) for p in pieces) + live.flush()
    assert streamed == "The dam costs 1,000 million [1]. The towns met (in 2025) in Lyon [2]."
    raw = "".join(pieces)
    assert finish(raw, _hits())[0] == streamed


def test_live_renumbering_releases_an_unclosed_bracket_at_the_end():
    live = LiveRenumbering(3)
    assert live.feed("Costs rose (sharply") == "Costs rose "
    assert live.flush() == "(sharply"
