"""What a question asks, read once before retrieval: the text to search with (a follow-up with
its subject, misspellings respelt; a question that asks two things, each part), the months and
years it names (relative ones, "last month", resolved against the day it is asked), whether it
wants the newest news, and the test that rules out passages that cannot be about the place or
year it pins down; and whether it is written in letters the articles use at all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta

from rag.prompt import HISTORY_CHARS
from rag.schema import ArticleRecord, Chunk
from rag.text import MONTHS, NAME_WORD, STOPWORDS, WORD, YEAR, months_typed, name_key, script

# Words that point back at an earlier turn ("what did they agree on?", "and after that?").
_BACK_REFERENCES = re.compile(
    r"^(and|also|what about|how about|so|then)\b|\b(it|its|they|them|their|he|she|his|her|this|that|"
    r"those|these|there|the talks|the meeting|the two)\b",
    re.IGNORECASE,
)
# A second question joined to the first by ", and" and a question word: "How much was Bellamy
# fined, and which club's offer did he turn down?", "Where were the ashes scattered, and in which
# city ...?". Without the comma "and what" is as often a list ("observation and what?").
_SECOND_QUESTION = re.compile(r", and (?=(?:(?:in|on|at|for|from|to|with|by) )?"
                              r"(?:who|whom|whose|what|which|how|where|when|why)\b)", re.IGNORECASE)
# "in Astana", "at Istanbul": the place a question is about (capitalised, see asked_places).
_PLACE = re.compile(r"\b(?:in|at)\s+([^\W\d_]{2,})")


def standalone_query(question: str, history: list[dict] | None) -> str:
    """The text to retrieve with: a follow-up question borrows the previous question's words.

    A rule, not a model call: prepending the last user question costs nothing and keeps the
    subject ("the Istanbul talks") that a follow-up like "and what did Russia demand?" leaves out.
    """
    previous = [t["content"] for t in history or [] if t.get("role") == "user" and isinstance(t.get("content"), str)]
    if previous and (len(question.split()) <= 6 or _BACK_REFERENCES.search(question)):
        # As much of it as the prompt shows: a turn of 100 KB sent through the API took 22 s to
        # read (every unknown word respelt) while every other question waited.
        return f"{previous[-1][:HISTORY_CHARS]} {question}"
    return question


def question_parts(question: str) -> list[str]:
    """The questions `question` asks: itself, or the two it joins with ", and" and a question word.
    The second carries the first's names it does not write, the ones its pronouns stand for: "How
    much was Craig Bellamy fined by Newcastle, and which club's £6m offer did he turn down?" ->
    "How much was Craig Bellamy fined by Newcastle?", "Craig Bellamy Newcastle which club's £6m
    offer did he turn down?". A second part of fewer than three words ("and why?") is no search
    of its own."""
    first, *second = _SECOND_QUESTION.split(question, maxsplit=1)
    if not second or len(second[0].split()) < 3:
        return [question]
    names = [name for name in asked_names(first) if name.casefold() not in second[0].casefold()]
    return [f"{first.rstrip(' ?')}?", " ".join([*names, second[0]])]


def unread_script(question: str, scripts: set[str]) -> str | None:
    """The script most of the question's words are written in, when no indexed article uses it
    (`scripts`: the ones they do; a question in Russian over English articles); None when the
    articles can be searched with it. Without this check, such a question is matched by its
    numbers and punctuation alone and answered from an unrelated passage."""
    asked = Counter(script(word) for word in WORD.findall(question))
    if not asked:
        return None
    written_in = asked.most_common(1)[0][0]
    return None if written_in in scripts else written_in


def time_terms(text: str) -> set[str]:
    """The months ("may") and years ("2025") a text names."""
    return {month[:3].lower() for month in months_typed(text)} | set(YEAR.findall(text))


# "this year", "last month", "the past week", "yesterday".
_RELATIVE = re.compile(r"\b(?:(this|last|past|previous) (year|month|week)|(today|yesterday))\b", re.IGNORECASE)
# A question after the newest news: "the latest talks", "the most recent meeting".
_LATEST = re.compile(r"\b(?:latest|newest|most recent(?:ly)?)\b", re.IGNORECASE)


def asked_times(question: str, today: date, archive_years: Callable[[], set[str]] | None = None) -> set[str]:
    """The months and years a question names (time_terms), with relative ones resolved against
    `today`: asked on 2026-11-23, "last month" is {"oct", "2026"} and "last year" {"2025"}; "this
    week" covers the last seven days, "the past year" the last 365.

    A relative time counts only when the archive has news from then (`archive_years()`: the years
    its articles are from, rag.index.StoredIndex.years, asked for only when the question names a
    relative time: over 150,000 articles it reads each once, 63 ms; None: not checked). Over the BBC archive
    of 2004-2005, "How big is the US budget deficit expected to be this year?" asked in 2026 ruled
    out every passage stating a year, the answering article first among them ("US budget deficit
    to reach $368bn", first in both rankings), and was answered from an undated passage on the
    year before. Over such an archive the reader's "this year" can only be the articles' own."""
    terms = time_terms(question)
    for match in _RELATIVE.finditer(question):
        which, unit, day = (group.casefold() if group else None for group in match.groups())
        first, last = _period(which, unit or day, today)
        years = {str(year) for year in range(first.year, last.year + 1)}
        if archive_years is not None and not years & archive_years():
            continue
        if unit == "year":
            terms |= years
            continue
        days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        terms |= {MONTHS[d.month - 1] for d in days} | {str(d.year) for d in days}
    return terms


def _period(which: str | None, unit: str, today: date) -> tuple[date, date]:
    """The first and last day of "this month", "the past week", "yesterday"..."""
    if unit in ("today", "yesterday"):
        day = today - timedelta(days=unit == "yesterday")
        return day, day
    if which == "past":  # a span ending today
        return today - timedelta(days={"year": 365, "month": 30, "week": 6}[unit]), today
    if unit == "year":
        year = today.year - (which != "this")
        return date(year, 1, 1), (today if which == "this" else date(year, 12, 31))
    if unit == "month":
        first = today.replace(day=1)
        if which == "this":
            return first, today
        end = first - timedelta(days=1)
        return end.replace(day=1), end
    end = today if which == "this" else today - timedelta(days=7)
    return end - timedelta(days=6), end


def asks_latest(question: str) -> bool:
    """Whether the question asks for the newest news ("What came out of the latest talks?")."""
    return bool(_LATEST.search(question))


def without_recency(query: str) -> str:
    """The query without "latest", "newest", "most recent": they say when, not what, and searched
    for they match "late" and "new" ("Library to open late" came first for "the latest news
    from Eastholm"). Retrieval orders the passages by date instead."""
    return " ".join(_LATEST.sub(" ", query).split()) or query


def article_time_terms(article: ArticleRecord) -> set[str]:
    """The years and months of the dates an article states ("2025-05-15" gives "2025" and "may")."""
    terms = set()
    for stated in article.all_dates():
        year, _, rest = stated.partition("-")
        terms |= {year} | ({MONTHS[int(rest[:2]) - 1]} if rest[:2].isdigit() else set())
    return terms


def asked_places(question: str) -> list[str]:
    """The capitalised words after "in" or "at", in any script: "in Çanakkale" and "at Ürümqi"
    as well as "in Astana" (read as A-Z only, a place with an accented initial was not read)."""
    return [word for word in _PLACE.findall(question) if word[0].isupper()]


# Small words a name may hold between its capitalised ones ("Bank of England", "Osama bin Laden").
# Not "and": "Putin and Erdogan" are two names (read as one, the passages that happen to write the
# pair were ranked first: seed dev R@1 0.833 -> 0.748).
NAME_JOINERS = {"of", "the", "for", "de", "la", "von", "van", "al", "bin"}


def asked_names(question: str) -> list[str]:
    """The names a question writes, whole: "What did the Bank of England say?" -> ["Bank of
    England"]: runs of capitalised words, with the small words a name holds between them;
    punctuation and "and" end one, and a function word that opens the question ("Who", "In") is
    none."""
    names, run = [], []
    for token in re.findall(rf"{NAME_WORD.pattern}|[^\w\s]", question) + ["."]:
        if token[0].isupper() and (run or token.lower() not in STOPWORDS):
            run.append(token)
            continue
        if run and token.lower() in NAME_JOINERS:
            run.append(token)
            continue
        while run and not run[-1][0].isupper():
            run.pop()
        if run:
            names.append(re.sub(r"['’]s?$", "", " ".join(run)))  # "Argentina's" is Argentina
        run = []
    return list(dict.fromkeys(names))


def fits_question(question: str, asked: set[str], articles_using: Callable[[Iterable[str]], dict[str, int]],
                  sources_naming: Callable[[set[str]], set[str]],
                  articles: Mapping[str, ArticleRecord]) -> Callable[[Chunk], bool]:
    """A test that is False for a chunk that cannot be about what the question pins down: its
    article never names the place the question asks about ("in Astana") though another article
    does, or it states years (its own, else its article's) and not one asked for (`asked`: the
    question's asked_times), and its article was not published in one either ("the bridge will
    open in 2026", published in 2024, is news of 2024). Without it the model answers "How long did the meeting in Astana
    last?" from a passage on a meeting in Istanbul. `sources_naming(keys)` gives the articles
    that use a word of each name_key; the question is read once, not per candidate."""
    # Known as written; a chunk's article must hold it even loosely (name_key: "Turkey" is there
    # if "Türkiye" is).
    written = [place.lower() for place in asked_places(question) if not months_typed(place)]
    places = {name_key(place) for place in articles_using(written)} if written else set()
    asked = {term for term in asked if YEAR.fullmatch(term)}
    naming = sources_naming(places) if places else None

    def fits(chunk: Chunk) -> bool:
        if naming is not None and chunk.source not in naming:
            return False
        if asked:
            article = articles.get(chunk.source)
            stated = set(YEAR.findall(chunk.text)) or {d[:4] for d in (article.all_dates() if article else [])}
            published = {article.published[:4]} if article and article.published else set()
            return not stated or bool(asked & (stated | published))
        return True

    return fits
