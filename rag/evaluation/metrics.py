"""The metrics of `rag eval`, as plain functions of strings, ranked sources and character spans.

No model is called and none of the pipeline's answer rules is used: answers are graded against
gold phrases (SQuAD's normalisation), retrieval against gold sources, and citations against the
gold evidence sentences a person marked in the sources. So each metric can come out low, and is
tested on hand-made cases whose right value is known.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass

from rag.errors import BadInputError
from rag.schema import Citation
from rag.text import CITATION, fold_accents, join_thousands

MATCHES = ("any", "all")
# Ranks at which retrieval recall is reported; the runner retrieves max(RECALL_AT) passages.
RECALL_AT = (1, 3, 5, 10)


@dataclass(frozen=True)
class Span:
    """Characters start..end of a source file: a gold evidence sentence, or what a citation points at."""

    source: str
    start: int
    end: int

    def overlaps(self, other: "Span") -> bool:
        return self.source == other.source and max(self.start, other.start) < min(self.end, other.end)


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
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


# --- answer accuracy


def normalize_answer(s: str) -> str:
    """SQuAD v1.1's normalisation (lower-case, drop punctuation and a/an/the, fold whitespace),
    after folding accents, typographic quotes and dashes, and thousands separators."""
    # "1 000" with a no-break or thin space is one number; NFKD would turn the space into an
    # ordinary one and split it, so the digits are joined first.
    s = fold_accents(join_thousands(s))  # "Erdoğan" -> "Erdogan"
    s = s.translate(_TYPOGRAPHY).lower()
    # SQuAD's punctuation is ASCII's, so "$250" lost its sign and "£80,000" kept it: gold "£80,000"
    # did not match an answer's "80,000 pounds" while gold "$250" matched "250 dollars". Every
    # currency sign (category Sc) goes, as "$" always did (regraded, every report in
    # eval/baselines grades the same).
    s = "".join(ch for ch in s if ch not in _PUNCTUATION and unicodedata.category(ch) != "Sc")
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def strip_markers(text: str) -> str:
    # A marker glued to a word ("prisoners[1]") would otherwise normalise into a new token
    # ("prisoners1") and hide the key phrase. Answer.text carries markers as "[n]" only.
    return CITATION.sub(" ", text)


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


def is_right(answerable: bool, answers: list[str], match: str, text: str, abstained: bool) -> bool:
    """A question's outcome: an answerable one is right when the answer (markers stripped) holds
    its gold phrases and is not a decline; an unanswerable one when it is declined."""
    if not answerable:
        return abstained
    return not abstained and contains_answer(strip_markers(text), answers, match)


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


def cited_spans(citation: Citation) -> list[Span]:
    """What a citation says the answer rests on: its highlighted sentences (one per claim citing
    it), else its whole passage."""
    spans = [Span(citation.source, start, end) for start, end in citation.highlights if end > start]
    return spans or [Span(citation.source, citation.start, citation.end)]


def grade_citations(citations: list[Citation], evidence: list[Span], also: list[Span] = ()) -> dict:
    """How an answer's citations meet the gold evidence.

    - `cited`: how many citations the answer has; `on_evidence`: how many of them point at a
      gold evidence sentence or at one a person marked as also supporting (precision's numerator);
    - `covers_gold`: whether some citation points at a gold evidence sentence (recall).
    A citation "points at" a sentence when the character range of one of its highlighted
    sentences overlaps it in the same file.
    """
    cited = [cited_spans(c) for c in citations]
    accepted = [*evidence, *also]
    return {
        "cited": len(cited),
        "on_evidence": sum(any(span.overlaps(gold) for span in spans for gold in accepted) for spans in cited),
        "covers_gold": any(span.overlaps(gold) for spans in cited for span in spans for gold in evidence),
    }


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
