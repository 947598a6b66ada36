"""The second opinion: an answer the model does not give again when it samples becomes the decline."""

import pytest

import rag
import rag.pipeline
from rag.answer import Checked
from rag.consistency import answer_key, disagreeing, overrules, same_answer, tally

BUYER = "Who bought Jimi Hendrix's 1965 Fender Stratocaster for £100,000?"


def test_an_answer_s_key_is_what_it_adds_to_the_question():
    # Names and numbers the question lacks, compared as names are (name_key: "Bob" and "Bob's").
    assert answer_key("Bob Terry bought it for £100,000 [1].", BUYER) == {"bob", "terr"}
    assert answer_key("The guitar was sold in 2004 [2].", BUYER) == {"2004"}
    # An answer naming nothing new is keyed by the content words the question lacks.
    assert answer_key("An anonymous collector bought it [1].", BUYER) == {"anony", "colle"}


def test_two_replies_agree_when_they_share_what_they_add():
    assert same_answer("Bob Terry [1].", False, "The guitar went to Bob Terry of Essex [2].", False, BUYER)
    assert not same_answer("Bob Terry [1].", False, "A Seattle museum bought it [1].", False, BUYER)
    # The decline agrees only with the decline.
    assert not same_answer("Bob Terry [1].", False, "The articles do not say.", True, BUYER)
    assert same_answer("The articles do not say.", True, "The articles do not say.", True, BUYER)


def test_disagreeing_counts_the_samples_that_say_something_else():
    samples = [("Bob Terry [1].", False), ("The articles do not say.", True), ("A Seattle museum [1].", False)]
    assert disagreeing("Bob Terry bought it [1].", samples, BUYER) == 2
    assert disagreeing("Bob Terry bought it [1].", samples[:1], BUYER) == 0
    # Most of them overrule the answer: 2 of 3, not 1 of 3 nor 1 of 2.
    assert overrules(2, 3) and not overrules(1, 3) and not overrules(1, 2)


def test_sampling_stops_once_the_rest_cannot_change_the_decision():
    drawn = []

    def samples(*texts):
        for text in texts:
            drawn.append(text)
            yield Checked(text=text, citations=[], abstained=text.startswith("The articles"))

    # Two of three agreeing: the third could not overrule the answer and is never sampled.
    assert tally("Bob Terry [1].", samples("Bob Terry [1].", "Bob Terry [2].", "unsampled"), 3, BUYER) == (0, 2)
    assert drawn == ["Bob Terry [1].", "Bob Terry [2]."]
    # Two of three contradicting overrule it whatever the third says.
    drawn.clear()
    assert tally("Bob Terry [1].", samples("The articles do not say.", "A museum [1].", "unsampled"), 3,
                 BUYER) == (2, 2)
    assert "unsampled" not in drawn
    # Split, the third decides.
    assert tally("Bob Terry [1].", samples("Bob Terry [1].", "A museum [1].", "Bob Terry [1]."), 3, BUYER) == (1, 3)
    assert tally("Bob Terry [1].", samples("Bob Terry [1].", "A museum [1].", "A museum [1]."), 3, BUYER) == (2, 3)


@pytest.mark.slow
def test_an_answer_most_samples_contradict_becomes_the_decline(settings, monkeypatch):
    """With the real model: every answer asked for a second opinion (the gate at 0), the samples
    replaced by the decline; the answer becomes the decline, its sentences listed as withdrawn (not
    as unsupported: the passages support them), and the count is on the Answer."""
    monkeypatch.setattr(rag.pipeline, "VERIFY_FROM", 0.0)
    generator = rag.pipeline.load_generator(settings)
    monkeypatch.setattr(type(generator), "sample", lambda self, *args: "The articles do not say.")
    items = list(rag.ask_stream("Where had Putin and Erdogan met before their talks in Astana?", settings=settings))
    answer = items[-1]
    assert answer.abstained and answer.text == "The articles do not say." and answer.citations == []
    # Two samples of three contradicting decide it: the third is not drawn.
    assert (answer.samples_disagreeing, answer.samples_drawn) == (2, 2)
    # The stream said the written answer was being checked, before the Answer withdrew it.
    assert [type(item).__name__ for item in items[-2:]] == ["Checking", "Answer"] and items[-2].samples == 3
    assert answer.raw_text and answer.withdrawn  # what the model wrote, kept for the record
    assert not any("[" in sentence for sentence in answer.withdrawn)  # markers removed: they cite nothing now


@pytest.mark.slow
def test_an_answer_the_passages_state_survives_its_second_opinion(settings, monkeypatch):
    """The real model's own samples, every answer asked for a second opinion: the prisoner
    exchange is written again, so the answer stands; the same seeds give the same samples."""
    monkeypatch.setattr(rag.pipeline, "VERIFY_FROM", 0.0)
    answer = rag.ask("What came out of the May 2025 Istanbul talks?", settings=settings)
    assert not answer.abstained and "prisoner" in answer.text.lower(), answer.text
    assert answer.samples_disagreeing is not None and answer.samples_disagreeing <= 1
    again = rag.ask("What came out of the May 2025 Istanbul talks?", settings=settings)
    assert (again.text, again.samples_disagreeing) == (answer.text, answer.samples_disagreeing)


@pytest.mark.slow
def test_no_second_opinion_when_switched_off(settings, monkeypatch):
    """consistency_samples = 0 samples nothing."""
    import dataclasses

    generator = rag.pipeline.load_generator(settings)
    monkeypatch.setattr(rag.pipeline, "VERIFY_FROM", 0.0)
    monkeypatch.setattr(type(generator), "sample", lambda self, *args: pytest.fail("sampled"))
    off = rag.ask("What came out of the May 2025 Istanbul talks?",
                  settings=dataclasses.replace(settings, consistency_samples=0))
    assert not off.abstained and off.samples_disagreeing is None
