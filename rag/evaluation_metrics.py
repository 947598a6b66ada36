"""The metrics of `rag eval`, as plain functions of strings, ranked sources and vectors.

No model is called here: the embedding function is passed in, so each metric can be tested on
hand-made cases whose right value is known.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from typing import Callable

import numpy as np

from rag.chunking import sentences
from rag.citations import support
from rag.errors import BadInputError
from rag.schema import Citation

MATCHES = ("any", "all")
# Ranks at which retrieval recall is reported; the runner retrieves max(RECALL_AT) passages.
RECALL_AT = (1, 3, 5, 10)

# A cited passage supports a sentence when every number of the sentence is in the passage (a wrong
# year or count is not supported, however many words match) and either signal clears its bar:
# - lexical: share of the sentence's content words found in the passage (rag.citations.support).
#   Sentences condensed from their passage score 0.5-1.0; outside knowledge 0-0.3.
SUPPORT_LEXICAL = 0.5
# - embedding: cosine between the sentence and the passage (the retrieval model). Measured on 43
#   seed-set answers: against passages they do not cite, sentences score median 0.46, 95th
#   percentile 0.69, max 0.76 (the articles share one topic), so the bar sits above the 95th
#   percentile and rescues only clear paraphrases ("The one concrete thing Moscow and Kyiv agreed
#   on...": lexical 0.46, cosine 0.76).
#   Never a requirement: "Astana." scores 0.44 with the passage that states it.
SUPPORT_COSINE = 0.7

# Typographic characters the SQuAD script would keep as parts of words. En dashes and other hyphens
# become "-" so "2023–2024" and "Russia–Ukraine" normalise like their ASCII spellings; em dashes
# separate clauses ("mediation—keen"), so they become a space rather than gluing two words.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-",
        "\u2014": " ", "\u2015": " ",
    }
)
# "1 000" with a no-break or thin space is a thousands separator; NFKD would turn it into an
# ordinary space and split the number, so join the digits first. "1,000" needs nothing: SQuAD's
# punctuation removal already makes it "1000".
_THOUSANDS_SPACE = re.compile(r"(?<=\d)[\u00a0\u2009\u202f](?=\d{3}\b)")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)
# "[1]", "[1, 3]", "[2-4]": citation markers glued to a word ("prisoners[1]") would otherwise
# normalise into a new token ("prisoners1") and hide the key phrase.
_CITATION_MARKER = re.compile(r"\[\d+(?:\s*[,\-\u2013]\s*\d+)*\]")
_CITE = re.compile(r"\[(\d+)\]")
_SPACE_BEFORE_STOP = re.compile(r"\s+([.,;:!?])")  # left where a marker was: "dam [1]." -> "dam ."
# "1,000", "1 000" (no-break or thin space): one number, as rag.citations reads it.
_THOUSANDS = re.compile(r"(?<=\d)[,\u00a0\u2009\u202f](?=\d{3}\b)")


# --- answer accuracy


def normalize_answer(s: str) -> str:
    """SQuAD v1.1's normalisation (lower-case, drop punctuation and a/an/the, fold whitespace),
    after folding accents, typographic quotes and dashes, and spaced thousands separators."""
    s = _THOUSANDS_SPACE.sub("", s)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))  # "Erdoğan" -> "Erdogan"
    s = s.translate(_TYPOGRAPHY).lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def strip_markers(text: str) -> str:
    return _CITATION_MARKER.sub(" ", text)


def contains_answer(text: str, answers: list[str], match: str = "any") -> bool:
    """Whether the normalised text holds any (or all) of the normalised answers as whole words."""
    if match not in MATCHES:
        raise BadInputError(f"match must be one of {MATCHES}, not {match!r}")
    if not answers:
        return False
    # Padding with spaces makes this a whole-token match: "1000" must not be found in "10000".
    haystack = f" {normalize_answer(text)} "
    found = [f" {normalize_answer(a)} " in haystack for a in answers]
    return all(found) if match == "all" else any(found)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token-overlap F1 between two strings."""
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_f1(text: str, answers: list[str]) -> float:
    return max((token_f1(text, a) for a in answers), default=0.0)


# --- retrieval


def gold_rank(ranked_sources: list[str], gold: list[str]) -> int | None:
    """1-based rank of the first passage from a gold source; None when none was retrieved."""
    return next((rank for rank, source in enumerate(ranked_sources, start=1) if source in gold), None)


def recall_at(ranked_sources: list[str], gold: list[str], k: int) -> float:
    """Share of the gold sources with at least one passage among the first k.

    Per source, not per passage: a two-article question found in one article scores 0.5, however
    many of that article's passages fill the top k.
    """
    if not gold:
        raise BadInputError("recall needs at least one gold source")
    found = set(ranked_sources[:k]) & set(gold)
    return len(found) / len(set(gold))


# --- citations


def split_sentences(text: str) -> list[str]:
    """Answer sentences, split as articles are (rag.chunking.sentences). Answers put markers
    before the stop ("... dam [1]."), so a sentence keeps its own markers."""
    return sentences(text)


def citation_checks(text: str, citations: list[Citation],
                    embed: Callable[[list[str]], np.ndarray]) -> list[dict]:
    """For each sentence of `text`: its cited numbers and those whose passage supports it.

    A marker whose number has no citation counts as cited and unsupported: it points at nothing.
    `embed` returns unit-length vectors, one row per text.
    """
    passages = {c.n: f"{c.title}\n{c.quote}" for c in citations}
    sentences = []  # (body without its markers, cited numbers)
    for sentence in split_sentences(text):
        # All marker shapes go, "[1-4]" too: its digits are not the sentence's numbers.
        body = _SPACE_BEFORE_STOP.sub(r"\1", strip_markers(sentence)).strip()
        if normalize_answer(body):  # not a lone marker or stop
            sentences.append((body, [int(n) for n in dict.fromkeys(_CITE.findall(sentence))]))
    if not sentences:
        return []
    numbers = sorted(passages)
    vectors = embed([body for body, _ in sentences] + [passages[n] for n in numbers])
    sentence_vectors, passage_vectors = vectors[: len(sentences)], dict(zip(numbers, vectors[len(sentences):]))
    checks = []
    for (body, cited), vector in zip(sentences, sentence_vectors):
        supported = [n for n in cited if n in passages and _numbers(body) <= _numbers(passages[n]) and (
            support(body, passages[n]) >= SUPPORT_LEXICAL
            or float(np.dot(vector, passage_vectors[n])) >= SUPPORT_COSINE
        )]
        checks.append({"sentence": body, "cited": cited, "supported": supported})
    return checks


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+", _THOUSANDS.sub("", text)))


def citation_precision(checks: list[dict]) -> float | None:
    """Share of (sentence, cited passage) pairs in which the passage supports the sentence."""
    pairs = sum(len(c["cited"]) for c in checks)
    return sum(len(c["supported"]) for c in checks) / pairs if pairs else None


def citation_recall(checks: list[dict]) -> float | None:
    """Share of sentences that carry at least one citation whose passage supports them."""
    return sum(bool(c["supported"]) for c in checks) / len(checks) if checks else None


# --- summaries


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), so q=0.5 is the median."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
