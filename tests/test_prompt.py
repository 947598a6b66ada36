"""The passages as the model reads them: grouped by article, titles once, overlaps cut."""

from rag.prompt import build_messages, format_passages, reading_order
from rag.schema import Chunk, Hit


def _hit(source: str, position: int, text: str, score: float = 0.5) -> Hit:
    return Hit(chunk=Chunk(id=f"{source}-{position}", source=source, title=f"Title of {source}", text=text,
                           start=0, end=len(text), position=position), score=score)


def test_passages_are_grouped_by_article_in_order_of_their_best_passage_then_in_text_order():
    hits = [_hit("b", 3, "B3."), _hit("a", 0, "A0."), _hit("b", 1, "B1."), _hit("a", 5, "A5.")]
    assert [(h.chunk.source, h.chunk.position) for h in reading_order(hits)] == [("b", 1), ("b", 3), ("a", 0), ("a", 5)]


def test_a_title_is_written_once_per_article_and_an_overlap_with_the_previous_passage_is_cut():
    hits = [_hit("a", 0, "One. Two. Three."), _hit("a", 1, "Two. Three. Four."), _hit("b", 0, "Five.")]
    text = format_passages(hits)
    assert text == ("Article: Title of a\n[1] One. Two. Three.\n\n[2] Four.\n\n"
                    "Article: Title of b\n[3] Five.")


def test_passages_that_are_not_neighbours_keep_their_whole_text():
    hits = [_hit("a", 0, "One. Two."), _hit("a", 2, "Two. Three.")]
    assert "[2] Two. Three." in format_passages(hits)


def test_the_question_comes_last_after_the_fixed_rules_and_examples():
    hits = [_hit("a", 0, "The towns agreed.")]
    messages = build_messages("What did they agree?", hits)
    assert messages[0]["role"] == "system"
    assert messages[-1]["content"].endswith("Question: What did they agree?")
    assert "[1] The towns agreed." in messages[-1]["content"]


def test_a_passage_is_shown_on_one_line():
    hits = [_hit("a", 0, "The towns\nagreed  to share.")]
    assert format_passages(hits) == "Article: Title of a\n[1] The towns agreed to share."
