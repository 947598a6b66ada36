"""Whether the model's answer holds when it answers again: a second opinion for answers the
calibrated decline (rag.decline) was unsure of.

A model that reads the answer in its passages writes it again when it samples; one that makes an
answer up from a near miss's passages (a nearby fact, another role's person) writes a different
one, or declines (SelfCheckGPT's idea: Manakul et al., 2023). So when rag.decline gives an answer's
question a probability of "unanswerable" of at least VERIFY_FROM, the model answers again
(Settings.consistency_samples times, 3) at TEMPERATURE, each reply checked as the answer was
(rag.answer.finish); when most of them say something else (another name, number or fact, or the
decline) the answer becomes the decline. Sampling stops once the replies not yet drawn cannot
change that (tally): on the tuning rows below, 247 of the 339 samples the gate asks for.

Chosen on the tuning rows, the model asked again (2026-12-05: seed dev split, news dev split and
tuning set, BBC dev split, SQuAD seed 1; 187 questions the pipeline answered after the calibrated
decline; eval/second_opinion.py). Asked on all 187, 3 samples each: the answers at least 2 of
them contradict were 4 of the 122 right ones, 8 of the 24 wrong ones and 10 of the 41 answers to
unanswerable questions; at 1 of 3, 17 right answers would go; at 3 of 3, 2 wrong and 2
unanswerable. Asked only at VERIFY_FROM (113 of the 187): 3, 7 and 9.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rag.answer import Checked, finish
from rag.grounding import added_names
from rag.schema import Hit
from rag.text import CITATION, content_stems, stated_numbers

# Replies sampled for a second opinion, and how freely (llama-cpp-python's default chain: top-k 40,
# top-p 0.95). Seeds are fixed, and a prompt is read in the same parts whatever was asked before it
# (rag.generation's _parts), so the same question over the same index gets the same decision, after
# any other questions or none. (Until 2026-12-06 the start a prompt shared with the one before was
# reused as that question had read it, and the floating-point difference could change a sample: over
# the BBC archive "When are Microsoft, Sony and Nintendo expected to release new consoles?" was
# overruled 2 of 2 as the 7th question of a process, upheld alone.)
TEMPERATURE = 0.8
FIRST_SEED = 1000
# rag.decline's probability of "unanswerable" at or above which an answer is sampled again.
VERIFY_FROM = 0.3


def answer_key(text: str, question: str) -> set[str]:
    """What an answer says that its question does not: the names (by name_key) and numbers it
    adds, else its content words (5-letter stems) the question lacks."""
    text = CITATION.sub("", text)
    added = added_names(text, question) | (stated_numbers(text) - stated_numbers(question))
    return added or content_stems(text) - content_stems(question)


def same_answer(first: str, first_declines: bool, other: str, other_declines: bool, question: str) -> bool:
    """Whether two checked replies to `question` say the same: both the decline, or answers that
    share a name, a number or (naming none) a content word the question does not write."""
    if first_declines or other_declines:
        return first_declines == other_declines
    key, other_key = answer_key(first, question), answer_key(other, question)
    return bool(key & other_key) or not (key or other_key)


def resample(generator, messages: list[dict], grammar: str | None, passages: list[Hit], question: str, count: int,
             max_tokens: int) -> Iterator[Checked]:
    """Up to `count` replies sampled for the prompt `messages` (at TEMPERATURE, seeds from FIRST_SEED),
    each checked against `passages` as the answer was; each is sampled when it is asked for."""
    for k in range(count):
        reply = generator.sample(messages, max_tokens, grammar, TEMPERATURE, FIRST_SEED + k)
        yield finish(reply, passages, question, cut_off=generator.last_cut_off)


def disagreeing(answer: str, samples: list[tuple[str, bool]], question: str) -> int:
    """How many of the checked `samples` ((text, declines) each) say something else than `answer`."""
    return sum(not same_answer(answer, False, text, declines, question) for text, declines in samples)


def overrules(disagreeing: int, samples: int) -> bool:
    """Whether `disagreeing` of `samples` replies overrule the answer: most of them."""
    return 2 * disagreeing > samples


def tally(answer: str, samples: Iterable[Checked], count: int, question: str) -> tuple[int, int]:
    """(disagreeing, drawn): the `count` `samples` read one by one until the
    rest cannot change whether they overrule `answer`: after two of three agree, or two of three
    disagree, the third is not sampled (its seed is fixed, so the decision is the one all three
    would give; a sample costs about as long as the answer took to write)."""
    against = drawn = 0
    unread = iter(samples)
    while not overrules(against, count) and overrules(against + count - drawn, count):
        sample = next(unread)
        against += not same_answer(answer, False, sample.text, sample.abstained, question)
        drawn += 1
    return against, drawn
