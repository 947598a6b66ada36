"""From the model's raw text to the final answer text and its citations.

Small models cite unreliably: in odd shapes, to the wrong passage, or not at all. So after
generation every sentence is checked against the passages by word overlap (no model needed):
- citation shapes are rewritten to `[n]` and numbers that point at no passage are dropped;
- a sentence whose cited passage does not support it, or that cites nothing, is attributed to
  the passage that does support it;
- an answer that no passage supports (outside knowledge, a joke asked for by an injected
  instruction) is replaced by the abstention;
- numbers are renumbered in order of first use and only cited passages are listed.
"""

from __future__ import annotations

import re

from rag.prompt import NOT_COVERED
from rag.schema import Citation, Hit

# "[1]", "[1, 2]", "【1】", "[Source: 1]", "[Passage 2]", "(Source 1)"; a bare "(2)" is left alone
# because it is as likely to be the article's own text ("(2025)") as a citation.
_NUMBERS = r"(\d+(?:\s*(?:,|and|&)\s*\d+)*)"
_KEYWORD = r"(?:source|passage|article)s?\s*:?\s*"
_MARKER = re.compile(
    rf"\[\s*(?:{_KEYWORD})?{_NUMBERS}\s*\]|【\s*(?:{_KEYWORD})?{_NUMBERS}\s*】|\(\s*{_KEYWORD}{_NUMBERS}\s*\)",
    re.IGNORECASE,
)
_CITE = re.compile(r"\[(\d+)\]")

# Share of a sentence's content words found in a passage. Measured on the seed articles: correct
# sentences from the 1.5B model score 0.6-1.0 against their passage, sentences from outside
# knowledge ("The capital of Australia is Canberra.") 0-0.25.
SUPPORTED = 0.5
GROUNDED = 0.34

# Phrases with which the model declines; compared on lower-cased text.
_DECLINES = (
    "articles do not say", "articles don't say", "passages do not", "passages don't",
    "do not contain", "does not contain", "do not mention", "does not mention", "no information",
    "not provided in", "cannot answer", "can't answer", "not mentioned", "is not stated",
)
_STOPWORDS = set(
    "the a an and or but of in on at to for from by with as is are was were be been being it its this that "
    "these those there their they them he she his her we our you your i not no so than then also which who "
    "whom what when where why how did does do has have had will would could should may might can about into "
    "over after before between during while both each other such only very more most some any all".split()
)


def is_decline(text: str) -> bool:
    lowered = " ".join(text.lower().replace("’", "'").split())
    return any(phrase in lowered for phrase in _DECLINES)


def content_stems(text: str) -> set[str]:
    """Lower-cased content words cut to 5 letters: a crude stem that matches agree/agreement,
    demand/demands, Russia/Russian; numbers keep their digits ("1,000" -> "1000")."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text) if w not in _STOPWORDS and (len(w) > 2 or w.isdigit())}


def support(sentence: str, passage: str) -> float:
    words = content_stems(sentence)
    return len(words & content_stems(passage)) / len(words) if words else 0.0


def finish(raw: str, hits: list[Hit]) -> tuple[str, list[Citation], bool]:
    """(text, citations, abstained) for the model's raw answer to passages `hits` (numbered from 1)."""
    text = _normalise_markers(raw, len(hits))
    first_sentence = _sentences(text)[0] if text else ""
    if not text or is_decline(first_sentence):
        return NOT_COVERED, [], True
    passages = [f"{hit.chunk.title}\n{hit.chunk.text}" for hit in hits]
    checked, best_support = [], 0.0
    for sentence in _sentences(text):
        body = _CITE.sub("", sentence).strip()
        scores = [support(body, passage) for passage in passages]
        claimed = [int(n) for n in _CITE.findall(sentence)]
        supported = [n for n in claimed if scores[n - 1] >= SUPPORTED]
        if not supported and scores and max(scores) >= SUPPORTED:
            supported = [scores.index(max(scores)) + 1]
        best_support = max([best_support, *scores])
        # An unsupported sentence keeps what the model claimed: a later check may judge it.
        checked.append(_with_markers(body, supported or claimed))
    if best_support < GROUNDED or (is_decline(text) and not _CITE.search(" ".join(checked))):
        return NOT_COVERED, [], True
    return _renumber(" ".join(checked), hits)


class LiveRenumbering:
    """Renumbers citation markers while the answer streams, so the words a user watches appear
    with the numbers the final answer will have (first use order); a marker split across pieces
    ("[", "3", "]") is held back until it closes."""

    def __init__(self, passages: int):
        self.passages = passages
        self.numbers: dict[int, int] = {}
        self.pending = ""

    def feed(self, piece: str) -> str:
        text = self.pending + piece
        opener = max(text.rfind("["), text.rfind("【"), text.rfind("("))
        still_open = opener != -1 and not any(close in text[opener:] for close in "]】)")
        if still_open and len(text) - opener < 24:
            text, self.pending = text[:opener], text[opener:]
        else:
            self.pending = ""
        return _MARKER.sub(self._rewrite, text)

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return _MARKER.sub(self._rewrite, text)

    def _rewrite(self, match: re.Match) -> str:
        markers = []
        for n in _marker_numbers(match, self.passages):
            self.numbers.setdefault(n, len(self.numbers) + 1)
            markers.append(f"[{self.numbers[n]}]")
        return "".join(markers)


def _marker_numbers(match: re.Match, passages: int) -> list[int]:
    """The valid passage numbers in one marker, in order, without repeats."""
    numbers = next(group for group in match.groups() if group)
    return list(dict.fromkeys(n for n in map(int, re.findall(r"\d+", numbers)) if 1 <= n <= passages))


def _normalise_markers(raw: str, passages: int) -> str:
    """All shapes to "[n]" (valid numbers only), placed before the sentence's final stop."""

    text = _MARKER.sub(lambda match: "".join(f"[{n}]" for n in _marker_numbers(match, passages)), raw)
    text = re.sub(r"([.!?])\s*((?:\[\d+\]\s*)+)", lambda m: " " + m.group(2).replace(" ", "") + m.group(1), text)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)  # "claim [9] ." with [9] dropped -> "claim."
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])|\n+", text) if s.strip()]


def _with_markers(body: str, numbers) -> str:
    markers = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
    if not markers:
        return body
    stop = body[-1] if body and body[-1] in ".!?" else ""
    return f"{body[: len(body) - len(stop)].rstrip()} {markers}{stop}"


def _renumber(text: str, hits: list[Hit]) -> tuple[str, list[Citation], bool]:
    new_number: dict[int, int] = {}  # passage number in the prompt -> number in the answer

    def rewrite(match: re.Match) -> str:
        old = int(match.group(1))
        new_number.setdefault(old, len(new_number) + 1)
        return f"[{new_number[old]}]"

    text = _CITE.sub(rewrite, text)
    citations = []
    for old, new in new_number.items():
        chunk = hits[old - 1].chunk
        citations.append(Citation(n=new, source=chunk.source, title=chunk.title, chunk_id=chunk.id,
                                  quote=chunk.text, start=chunk.start, end=chunk.end))
    return text, citations, False
