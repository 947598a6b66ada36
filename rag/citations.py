"""From the model's raw text to the final answer text and its citations.

Small models cite unreliably: in odd shapes, to the wrong passage, or not at all. So after
generation every sentence is checked against the passages by word overlap (no model needed):
- citation shapes are rewritten to `[n]` and numbers that point at no passage are dropped;
- a sentence whose cited passage does not support it, or that cites nothing, is attributed to
  the passage that does support it;
- a sentence no passage supports, or that names what no passage names, is left out; an answer
  with nothing left (outside knowledge, a joke asked for by an injected instruction), or a
  "how many" answer with no number in it, becomes the abstention;
- numbers are renumbered in order of first use and only cited passages are listed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.chunking import sentences, split_sentences
from rag.prompt import NOT_COVERED
from rag.schema import Chunk, Citation, Hit

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

# Phrases with which the model declines; compared on lower-cased text.
_DECLINES = (
    "articles do not say", "articles don't say", "passages do not", "passages don't",
    "do not contain", "does not contain", "do not mention", "does not mention", "no information",
    "not provided in", "cannot answer", "can't answer", "not mentioned", "is not stated",
)
_COUNT_ASKED = re.compile(r"\bhow (many|much)\b", re.IGNORECASE)
_COUNT = re.compile(
    r"\b\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|half|once|twice|none)\b", re.IGNORECASE)
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


def name_key(word: str) -> str:
    """A name compared on four accent-folded letters, so that "Turkey" matches "Türkiye" and
    "Russia" matches "Russian"."""
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().lower()[:4]


def novel_terms(sentence: str, evidence: str) -> set[str]:
    """Names and numbers in `sentence` that `evidence` never mentions: the mark of a claim made
    from outside knowledge ("Donetsk, Luhansk, Kharkiv" when the passage says "four regions").
    Names are compared by name_key."""
    def numbers(text: str) -> set[str]:
        return set(re.findall(r"\d+", re.sub(r"(?<=\d),(?=\d{3})", "", text)))

    evidence_words = {name_key(w) for w in re.findall(r"\w+", evidence)}
    names = {w for w in re.findall(r"\b[A-Z][\w’'-]*", sentence) if w.lower() not in _STOPWORDS}
    return {w for w in names if name_key(w) not in evidence_words} | (numbers(sentence) - numbers(evidence))


@dataclass
class Checked:
    """The outcome of checking one answer."""

    text: str
    citations: list[Citation]
    abstained: bool
    unsupported: list[str] = field(default_factory=list)


def finish(raw: str, hits: list[Hit], question: str = "") -> Checked:
    """Check the model's raw answer to passages `hits` (numbered from 1) sentence by sentence.

    A sentence is supported by a passage when at least SUPPORTED of its content words are in it
    and it names nothing (no name, no number) that neither the passages nor the question mention.
    Supported sentences keep, or get, the citation of a passage that supports them; the others
    are left out of the text and listed as unsupported. No supported sentence, or no number
    in the answer to a "how many" question: an abstention.
    """
    text = _normalise_markers(raw, len(hits))
    if not text or is_decline(sentences(text)[0]):
        return Checked(NOT_COVERED, [], True)
    passages = [f"{hit.chunk.title}\n{hit.chunk.text}" for hit in hits]
    evidence = "\n".join([question, *passages])
    kept, unsupported, citing = [], [], {}  # kept: (claim, passage numbers backing it)
    for sentence in sentences(text):
        body = re.sub(r"\s+([.,;:!?])", r"\1", _CITE.sub("", sentence)).strip()
        scores = [support(body, passage) for passage in passages]
        claimed = [int(n) for n in _CITE.findall(sentence)]
        backing = [n for n in claimed if scores[n - 1] >= SUPPORTED]
        if not backing and scores and max(scores) >= SUPPORTED:
            backing = [scores.index(max(scores)) + 1]
        if not backing or novel_terms(body, evidence):
            if not is_decline(body):  # "The date is not mentioned." is a remark, not a claim
                unsupported.append(body)
            continue
        kept.append((body, backing))
        for n in backing:
            citing.setdefault(n, []).append(body)
    claims = [claim for claim, _ in kept]
    if not kept or (_COUNT_ASKED.search(question) and not any(_COUNT.search(claim) for claim in claims)):
        # A "how many" answer without a number restates the question around a passage that
        # does not say ("Türkiye has armed Ukraine with Bayraktar TB2 drones [1].").
        return Checked(NOT_COVERED, [], True, unsupported + claims)
    answer, citations = _renumber(" ".join(_with_markers(claim, backing) for claim, backing in kept), hits, citing)
    return Checked(answer, citations, False, unsupported)


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


def _with_markers(body: str, numbers) -> str:
    markers = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
    if not markers:
        return body
    stop = body[-1] if body and body[-1] in ".!?" else ""
    return f"{body[: len(body) - len(stop)].rstrip()} {markers}{stop}"


def _renumber(text: str, hits: list[Hit], citing: dict[int, list[str]]) -> tuple[str, list[Citation]]:
    new_number: dict[int, int] = {}  # passage number in the prompt -> number in the answer

    def rewrite(match: re.Match) -> str:
        old = int(match.group(1))
        new_number.setdefault(old, len(new_number) + 1)
        return f"[{new_number[old]}]"

    text = _CITE.sub(rewrite, text)
    citations = []
    for old, new in new_number.items():
        chunk = hits[old - 1].chunk
        start, end = _best_sentence(chunk, citing[old])
        citations.append(Citation(
            n=new, source=chunk.source, title=chunk.title, chunk_id=chunk.id, quote=chunk.text,
            start=chunk.start, end=chunk.end, highlight_start=start, highlight_end=end,
            support=round(max(support(claim, f"{chunk.title}\n{chunk.text}") for claim in citing[old]), 3),
        ))
    return text, citations


def _best_sentence(chunk: Chunk, claims: list[str]) -> tuple[int, int]:
    """Source-file offsets of the passage sentence that shares most words with the claims."""
    if Path(chunk.source).suffix.lower() in (".html", ".htm"):
        return chunk.start, chunk.end  # the passage text is not a verbatim slice of the raw HTML
    spans = split_sentences(chunk.text, 0, len(chunk.text)) or [(0, len(chunk.text))]
    claim = " ".join(claims)
    best = max(spans, key=lambda span: support(claim, chunk.text[span[0]:span[1]]))
    return chunk.start + best[0], chunk.start + best[1]
