"""The plain dataclasses passed between stages: Article -> Chunk -> Hit -> Answer, and the
ArticleRecord an index keeps of each article it holds.

The CLI's --json, the UI and the eval report all print `asdict()` of these objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def located(file: str, origin: str | None) -> str:
    """Where an article is, as the UI names it: "archive.csv, row 12", or just the file."""
    return f"{file}, {origin}" if origin else file


@dataclass
class Article:
    """One article, read and cleaned: a whole file, or one row of a dump or entry of a feed.

    `text` is what a reader is shown, and every offset in the system points into it: a .txt
    file's decoded content, unchanged; a Markdown file's plain text (rag.markdown: no link
    addresses or emphasis marks); an HTML page's or a PDF's extracted text.
    `spans` are the (start, end) ranges of `text` that hold the article's own words, one per
    paragraph or line, with page furniture (credits, "9 hours ago", trailers...) left out.
    """

    # What citations show, unique in an index: the file name ("004_e89adec3750aa83b.txt"), or
    # for a row of a dump or an entry of a feed the file's name, "#" and the row number or
    # entry key ("archive.csv#12", "world.rss#9f2c41d07a").
    source: str
    path: str  # where the file was read from
    text: str
    spans: list[tuple[int, int]]
    title: str
    outlet: str | None = None  # e.g. "TRT World", when the text names it; else its web site ("bbc.co.uk")
    dates: list[str] = field(default_factory=list)  # ISO dates the text states: "2025-05-15", "2025-05"
    content_hash: str = ""  # sha256 of `text`: chunk ids derive from it
    # When it was published (ISO date), when known: from an HTML page's markup, or a dateline
    # ("Published: 16 May 2025") near the top of a text or PDF.
    published: str | None = None
    author: str | None = None  # as the page's markup or the PDF's properties name them
    pages: list[int] = field(default_factory=list)  # a PDF's page start offsets in `text` (rag.loading.page_of)
    file: str = ""  # the name of the file it came from (set to `source` when left empty)
    origin: str | None = None  # where in that file, for a dump or feed: "row 12", "line 3", "entry 4"
    url: str | None = None  # the article's address on the web, when its dump, feed, page or front matter gives one
    # Whether it speaks to the assistant anywhere, hidden text included (rag.injection): an
    # injection attempt, so the article is trusted less.
    addresses_assistant: bool = False

    def __post_init__(self):
        self.file = self.file or self.source


@dataclass
class ArticleRecord:
    """What an index records of one article (a row of its articles table); the library lists these."""

    source: str  # as Article.source: a file name, or "file#row" for a dump's row or a feed's entry
    title: str
    outlet: str | None = None
    dates: list[str] = field(default_factory=list)  # ISO dates the text states, sorted
    published: str | None = None  # ISO publication date, when the file states one
    author: str | None = None
    pages: list[int] = field(default_factory=list)  # a PDF's page start offsets (rag.loading.page_of)
    content_hash: str = ""
    chunks: int = 0
    added: str | None = None  # ISO time it first entered the index with this content
    file: str = ""  # the file in the library folder it came from
    origin: str | None = None  # "row 12", "line 3", "entry 4": where in that file, for a dump or feed
    url: str | None = None
    addresses_assistant: bool = False  # as Article.addresses_assistant

    def __post_init__(self):
        self.file = self.file or self.source

    def date(self) -> str | None:
        """When it is from: its publication date, else the latest date its text states."""
        return self.published or (self.dates[-1] if self.dates else None)

    def all_dates(self) -> list[str]:
        """Its publication date and the dates its text states."""
        return [self.published, *self.dates] if self.published else list(self.dates)


@dataclass
class Chunk:
    """A passage of an article: what is embedded, retrieved, shown to the model and quoted."""

    id: str  # stable: derived from the article's content hash and the passage's offsets
    source: str
    title: str
    text: str  # the passage's words (furniture between paragraphs left out)
    start: int  # character offsets of the passage in the article's text
    end: int
    position: int  # 0-based order of the chunk within its article
    # The article's publication date (ISO), when known: the model is shown it beside the title.
    published: str | None = None


@dataclass
class Hit:
    """A retrieved chunk with its similarity score (cosine, higher is closer)."""

    chunk: Chunk
    score: float


@dataclass
class Retrieved:
    """What ask_stream yields first, as soon as retrieval is done: the passages the answer will
    rest on, in the order the model sees them. On a slow CPU the model then reads them for
    seconds; a reader can read them meanwhile."""

    hits: list[Hit]
    seconds: float  # from the call to the end of retrieval


@dataclass
class Checking:
    """What ask_stream yields after the answer is written when it asks the model again (a second
    opinion, rag.consistency): up to `samples` more replies, each taking about as long as the
    answer did. The streamed text may still become the decline."""

    samples: int


@dataclass
class Correcting:
    """What ask_stream yields when it asks the model once more about a yes/no question it declined
    (README step 12, "A "No" that says what is so"): one more reply, about as long as the answer.
    The streamed decline may still become "No, in fact, ..."."""


@dataclass
class Citation:
    n: int  # the number used in Answer.text, as in "[1]"
    source: str
    title: str
    chunk_id: str
    quote: str  # the cited passage text
    start: int  # character offsets of `quote` in the article's text
    end: int
    # The sentences of the passage its claims rest on, as (start, end) offsets in the article's
    # text: the j-th is the one the answer's j-th claim citing it rests on (the sentence that shares
    # most of its words: rag.answer.best_sentence), so two claims may give the same. What the UI
    # highlights, and marks above the others when that claim's [n] is clicked.
    highlights: list[tuple[int, int]] = field(default_factory=list)
    support: float = 0.0  # share of the citing sentence's content words found in the passage
    score: float = 0.0  # the passage's cosine similarity to the question (as Hit.score)
    # Whether its article gives orders to an assistant (as Article.addresses_assistant): its words are
    # data to whoever reads them, a calling assistant too.
    addresses_assistant: bool = False
    outlet: str | None = None  # the article's outlet, when it names one
    # The article's publication date (ISO), else the latest date it states, when there is one.
    date: str | None = None
    page: int | None = None  # the page of a PDF the first highlighted sentence starts on
    file: str = ""  # the file in the library the article came from (its source, for a one-article file)
    origin: str | None = None  # the row of a dump or entry of a feed the article is ("row 12")
    url: str | None = None  # the article's web address, when its dump, feed, page or front matter gives one

    def reference(self) -> str:
        """It as a reference names it: "Talks end (The Guardian, 2025-05-16, page 3; nexis.docx#2,
        chars 0-412; https://...)": what it is, where it was published, where it is found. What
        `rag ask` prints and a conversation downloaded from the web app lists."""
        published = ", ".join(part for part in (self.outlet, self.date, f"page {self.page}" if self.page else None)
                              if part)
        found = "; ".join(part for part in (published, f"{self.source}, chars {self.start}-{self.end}", self.url)
                          if part)
        return f"{self.title} ({found})"

    def highlighted(self) -> list[str]:
        """The highlighted sentences' text; none when `quote` is not the article's text from start
        to end (an index built before HTML pages were read as their extracted text)."""
        if len(self.quote) != self.end - self.start:
            return []
        return [self.quote[start - self.start:end - self.start] for start, end in dict.fromkeys(self.highlights)
                if self.start <= start < end <= self.end]


@dataclass
class Timings:
    """Seconds spent, measured from the moment ask() was called."""

    retrieval: float = 0.0
    first_token: float | None = None  # None when no model call was made (e.g. abstained early)
    total: float = 0.0


# What can make an answer the decline, and how the chat, the CLI and the web app say it:
# retrieval (rag.pipeline: no passage close enough to ask the model about), the calibration
# (rag.decline, before the model writes), the model itself, the answer checks (rag.answer: no
# sentence rests on a passage, or the answer is not of the kind asked), and the model not
# standing by what it wrote (`Answer.withdrawn`: its second opinion, rag.consistency, or its doubt
# about a "Yes", rag.decline.doubts_yes).
DECLINED_BY = {
    "retrieval": "no passage of the indexed articles is close to the question",
    "calibration": "the passages found seem not to answer it: the model was ready to say so before writing",
    "model": "the model read the passages found and said they do not answer it",
    "checks": "what the model wrote did not rest on the passages found, or did not answer what was asked",
    "second_opinion": "asked again, the model said something else",
    "doubted_yes": 'the model was not sure enough of its "Yes"',
}


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    timings: Timings
    # The passages the model was shown, best match first (the prompt groups them by article, in
    # rag.prompt.reading_order, and numbers them in that order: citations follow the prompt's numbers).
    hits: list[Hit] = field(default_factory=list)
    # log P(the decline sentence | prompt) under the generator: how ready the model was to say
    # the articles do not answer (rag.decline weighs it); None when the model was not asked.
    decline_logprob: float | None = None
    # Sentences the model wrote that no passage supports; left out of `text`.
    unsupported: list[str] = field(default_factory=list)
    # The checked answer's sentences (markers removed) that the model did not stand by: the
    # passages support their words, but asked again it said something else (a second opinion), or
    # the answer said yes and it hardly preferred "Yes" to "No" (`yes_margin`); `text` is then the
    # decline. `why_withdrawn` says which.
    withdrawn: list[str] = field(default_factory=list)
    # The model's reply as it wrote it, before rag.answer checked it ("" when the model was not
    # asked to write): eval/replay_checks.py re-runs the check on it without the model.
    raw_text: str = ""
    # How many of the replies sampled for a second opinion (rag.consistency) said something else,
    # of `samples_drawn` (sampling stops once the rest cannot change the decision); None when none
    # was asked for. Most of Settings.consistency_samples: the answer became the decline (or, for
    # a yes/no question, the "No, in fact, ..." `correction` that replaced the decline; the counts
    # are still those of the answer withdrawn).
    samples_disagreeing: int | None = None
    samples_drawn: int | None = None
    # For an answer that says yes (rag.grounding.affirms) or a yes/no question declined,
    # log P("Yes") - log P("No") at the start of the reply under the generator: below
    # rag.decline.YES_MARGIN a yes was withdrawn, and the model asked once more for a "No" that
    # says what is so (`correction`). None when neither, or when the model was not asked.
    yes_margin: float | None = None
    # That second reply as the model wrote it, opening rag.prompt.CORRECTION ("" when not asked
    # for). `text` is its checked version when rag.grounding.corrects kept it, else the decline.
    correction: str = ""
    prompt_tokens: int = 0
    # Prompt tokens the model had to read: those not reused from the runtime's cache of the
    # previous prompt (its fixed instructions and examples). What decides the wait on a CPU.
    new_prompt_tokens: int = 0
    completion_tokens: int = 0
    # Whether max_answer_tokens stopped the model's reply before its end (a broken-off last
    # sentence is left out of `text`; the API's finish_reason is then "length").
    cut_off: bool = False
    # What made `text` the decline, one of DECLINED_BY (None when it is not the decline).
    declined_by: str | None = None

    @property
    def why_declined(self) -> str:
        """Why `text` is the decline, as the chat, the CLI and the web app say it ("" when it is not)."""
        if self.withdrawn and (why := self.why_withdrawn):
            return f"the model wrote an answer, but {why}, so it was withdrawn"
        return DECLINED_BY.get(self.declined_by, "")

    @property
    def why_withdrawn(self) -> str:
        """Why the `withdrawn` sentences were, as the chat, the CLI and the web app say it."""
        if self.declined_by == "second_opinion":
            return f"{DECLINED_BY['second_opinion']} in {self.samples_disagreeing} of {self.samples_drawn} replies"
        if self.declined_by == "doubted_yes":
            return (f'{DECLINED_BY["doubted_yes"]}: it found it only {math.exp(self.yes_margin or 0.0):.0f} times '
                    'as likely as "No"; a yes the articles state it says more surely')
        return ""


# What ask_stream yields: a Retrieved, the answer's text in pieces, perhaps a Checking, perhaps a
# Correcting, the Answer.
Streamed = Retrieved | str | Checking | Correcting | Answer


@dataclass
class IndexInfo:
    index_dir: str
    embedding_model: str
    dimension: int
    articles: int
    chunks: int
    skipped: list[str] = field(default_factory=list)  # "file: reason" for each file not indexed
    # What this run changed: files read and embedded (new or changed), and articles removed.
    # The rest were left as indexed, not re-read past their SHA-256.
    embedded: int = 0
    removed: int = 0
    seconds: float = 0.0
