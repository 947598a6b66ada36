"""HTML for the chat: answers with citation chips, the sources panel, the whole-article view.

Everything that comes from an article or from the model is escaped here: articles are
untrusted input (an uploaded page can hold markup), and the model may repeat it. A chip names
its answer's position in the conversation k and its citation number n in a class, `ref-k-n`
(the chat's sanitiser strips data- attributes); the panel's sections and sources carry them as
`data-answer` and `data-n`. The panel's script (assets.PANEL_JS) joins the two.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING

from rag.loading import page_of, web_address
from rag.schema import Answer, Article, Chunk, Citation, located
from rag.text import CITATION
from rag.transcript import answer_markdown, markdown_text

# Said of an article that gives orders to AI assistants (rag.injection), in the Library and under Sources.
GIVES_ORDERS = "gives orders to AI assistants: its orders are never shown to the model, its passages come last"

if TYPE_CHECKING:
    from ui.chat import Exchange

_HIT_PREVIEW_CHARS = 300


def question_html(question: str) -> str:
    return escape(question)


def answer_html(k: int, answer: Answer, show_details: bool) -> str:
    """The answer text with its [n] markers as chips, then a line of its sources."""
    if answer.abstained:
        why = answer.why_declined or "no indexed article answers this"
        why = escape(why[0].upper() + why[1:])
        hint = (f"{why} (see Sources)." if answer.withdrawn else
                f"{why}. Rephrase the question, or add an article in the Library tab.")
        body = (f'<div class="abstained"><strong>{escape(answer.text)}</strong><br>'
                f'<span class="hint">{hint}</span></div>')
    else:
        body = _with_chips(k, escape(answer.text), {c.n: c for c in answer.citations})
    footer = [
        f'<button type="button" class="cite-source ref-{k}-{c.n}">'
        f'<span class="cite-num">{c.n}</span> {escape(c.title)}</button>'
        for c in answer.citations
    ]
    if show_details:
        footer.append(f'<button type="button" class="show-details ref-{k}-0">Details</button>')
    return body + (f'<div class="cite-footer">{"".join(footer)}</div>' if footer else "")


def streaming_html(k: int, text: str, checking: int = 0, correcting: bool = False) -> str:
    """A partial answer as it streams: its numbers are final already, so chips can show at once.
    `checking`: the answer is written and the model is answering again (up to that many times);
    `correcting`: it declined a yes/no question and is asked once more what the articles say."""
    body = _with_chips(k, escape(text), {})
    if checking:
        return (body + '<br><span class="pending">Checking this answer: the model answers again, up to '
                f'{checking} times; if it says something else, the answer is withdrawn…</span>')
    if correcting:
        return body + ('<br><span class="pending">The articles may say otherwise than the question: the model '
                       'is asked once more what they say…</span>')
    return body + '<span class="cursor">▍</span>'


def pending_html(found: int = 0) -> str:
    """Before the first word: searching, then (`found` passages) the model reading them."""
    if found:
        passages = "the passage" if found == 1 else f"the {found} passages"
        return f'<span class="pending">Reading {passages} found (shown beside)…</span>'
    return '<span class="pending">Searching the articles…</span>'


def error_html(message: str) -> str:
    return f"⚠️ {escape(message)}"


def sources_panel(exchanges: list[Exchange], show_details: bool) -> str:
    """The sources of every answer in the conversation, the latest one shown.

    Earlier answers' sections are present but hidden, so a chip in an old answer opens its own
    sources without a round trip.
    """
    answered = [(k, e) for k, e in enumerate(exchanges) if e.answer is not None]
    if not answered:
        return ('<div class="sources-panel"><p class="panel-empty">Sources appear here. Click a citation number '
                'in an answer to see the passage it rests on.</p></div>')
    latest = answered[-1][0]
    sections = [_section(k, e, show_details, hidden=k != latest) for k, e in answered]
    return f'<div class="sources-panel">{"".join(sections)}</div>'


def evidence_panel(question: str, found: list[tuple[Chunk, tuple[int, int]]], scope: str = "") -> str:
    """The passages found for `question`, shown while the model reads them (seconds on a CPU),
    each with its sentence closest to the question marked: (chunk, (sentence start, end));
    `scope`: the articles searched, when not all (rag.Scope.described)."""
    passages = "".join(
        f'<article class="source evidence"><header><div><strong>{escape(chunk.title)}</strong>'
        f'<div class="source-meta">{escape(chunk.source)}</div></div></header>'
        f'<blockquote class="passage">{_passage(chunk.text, chunk.start, chunk.end, [sentence])}</blockquote>'
        "</article>"
        for chunk, sentence in found)
    return (f'<div class="sources-panel"><section class="answer-sources evidence-found">'
            f'<p class="sources-question">Passages found for “{_isolated(question)}”{_among(scope)}. The answer is '
            f'being written from them…</p>{passages}</section></div>')


def _among(scope: str) -> str:
    """Which articles a question was asked of, after it, when not all."""
    return f" among the articles {escape(scope)}" if scope else ""


def article_view(article: Article, c_start: int, c_end: int, highlights: list[tuple[int, int]]) -> str:
    """The whole article, escaped, with the cited passage tinted and its supporting sentences marked."""
    text, n = article.text, len(article.text)
    if not 0 <= c_start < c_end <= n:
        c_start = c_end = 0
    body = (escape(text[:c_start]) + f'<span class="passage-range">{_marked(text, c_start, c_end, highlights)}'
            f"</span>{escape(text[c_end:])}")
    # A PDF's text runs on across pages: say which page the cited passage is on.
    page = page_of(article, c_start) if c_end else None
    where = _isolated(located(article.file, article.origin))
    if page:
        where += f" · page {page} of {len(article.pages)}"
    return (f'<div class="article-view" role="dialog" aria-label="{escape(article.title)}">'
            f'<header><div><strong>{escape(article.title)}</strong><div class="source-meta">{where}'
            f'</div></div><button type="button" class="article-close">Close</button></header>'
            f'<div class="article-text">{body}</div></div>')


def article_error(message: str) -> str:
    return (f'<div class="article-view"><header><strong>Cannot show the article</strong>'
            f'<button type="button" class="article-close">Close</button></header><p>{escape(message)}</p></div>')


def _isolated(text: str) -> str:
    """`text` escaped, in its own bidirectional isolate. Untrusted text set inline beside other
    text: an outlet ending in U+202E (right-to-left override) showed the date and file after it
    reversed ("61-50-5202"), and an Arabic or Hebrew title pulled the numbers after it across."""
    return f"<bdi>{escape(text)}</bdi>"


def _with_chips(k: int, escaped: str, citations: dict[int, Citation]) -> str:
    """The [n] markers as chips. The j-th [n] of an answer is the j-th claim citing source n, which
    rests on its highlights[j]: the chip's class `claim-j` (Gradio's chatbot keeps classes, not
    data attributes) lets a click mark that sentence in the passage above the others."""
    seen: dict[int, int] = {}

    def chip(match: re.Match) -> str:
        n = int(match.group(1))
        seen[n] = seen.get(n, -1) + 1
        title = f' title="{escape(citations[n].title)}"' if n in citations else ""
        claim = f" claim-{seen[n]}" if n in citations else ""
        return f'<button type="button" class="cite-chip ref-{k}-{n}{claim}"{title}>{n}</button>'

    return CITATION.sub(chip, escaped)


def conversation_markdown(exchanges: list[Exchange]) -> str:
    """The conversation as a Markdown file to keep (the chat's "Download conversation"): each
    answer as rag.transcript gives it, a question that met an error with the error."""
    parts = ["# Questions asked of the news library"]
    for exchange in exchanges:
        if exchange.answer is not None:
            parts.append(answer_markdown(exchange.question, exchange.answer, exchange.scope))
        else:
            parts += [f"## {markdown_text(exchange.question)}", f"*{markdown_text(exchange.error or 'No answer.')}*"]
    return "\n\n".join(parts) + "\n"


def _section(k: int, exchange: Exchange, show_details: bool, hidden: bool) -> str:
    answer = exchange.answer
    parts = [f'<p class="sources-question">Sources for “{_isolated(exchange.question)}”{_among(exchange.scope)}</p>']
    if answer.citations:
        parts += [_source(k, c) for c in answer.citations]
    elif answer.withdrawn:
        parts.append('<p class="panel-empty">No sources: the answer was withdrawn.</p>')
    else:
        parts.append('<p class="panel-empty">No sources: the indexed articles do not answer this question.</p>')
    if answer.unsupported:
        # Shown, not silently dropped: the reader sees what the model claimed beyond its sources.
        count = len(answer.unsupported)
        parts.append(_listed(f'Left out of the answer: {count} sentence{"s" if count > 1 else ""} no passage '
                             'supports', answer.unsupported))
    if answer.withdrawn:
        # The passages support these words; the model did not stand by them (Answer.why_withdrawn).
        parts.append(_listed(f"Withdrawn: {escape(answer.why_withdrawn)}", answer.withdrawn))
    if show_details:
        parts.append(_details(exchange))
    return f'<section class="answer-sources" data-answer="{k}"{" hidden" if hidden else ""}>{"".join(parts)}</section>'


def _listed(summary: str, sentences: list[str]) -> str:
    """Sentences kept out of an answer, folded under `summary` in its Sources section."""
    items = "".join(f"<li>{escape(sentence)}</li>" for sentence in sentences)
    return f'<details class="left-out"><summary>{summary}</summary><ul>{items}</ul></details>'


def _source(k: int, c: Citation) -> str:
    facts = [c.outlet, c.date, located(c.file or c.source, c.origin), f"page {c.page}" if c.page else None]
    meta_line = " · ".join(_isolated(f) for f in facts if f)
    if web_address(c.url):  # never a javascript: link from a dump
        meta_line += f' · <a href="{escape(c.url)}" target="_blank" rel="noopener noreferrer">original</a>'
    # Cited only when no other article fits the question; its news may be planted with its orders.
    warning = (f'<div class="source-meta source-warning">⚠️ This article {GIVES_ORDERS}: what it says may be '
               "planted too.</div>") if c.addresses_assistant else ""
    return (
        f'<article class="source" data-answer="{k}" data-n="{c.n}">'
        f'<header><span class="cite-num">{c.n}</span><div><strong>{escape(c.title)}</strong>'
        f'<div class="source-meta">{meta_line}</div>{warning}</div></header>'
        f'<blockquote class="passage">{_passage(c.quote, c.start, c.end, c.highlights, by_claim=True)}</blockquote>'
        f'<button type="button" class="view-article" data-source="{escape(c.source)}" data-start="{c.start}" '
        f'data-end="{c.end}" data-highlights="{highlights_attribute(c.highlights)}">View the whole article</button>'
        "</article>"
    )


def highlights_attribute(highlights: list[tuple[int, int]]) -> str:
    """Highlights as the article button carries them to the whole-article view: "122-151 170-204"."""
    return " ".join(f"{start}-{end}" for start, end in highlights)


def highlights_of(attribute: str) -> list[tuple[int, int]]:
    """The highlights a browser sent back (highlights_attribute's form); ValueError if malformed."""
    pairs = [pair.split("-") for pair in str(attribute).split()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"highlights are start-end pairs, not {str(attribute)[:60]!r}")
    return [(int(start), int(end)) for start, end in pairs]


def _passage(text: str, start: int, end: int, highlights: list[tuple[int, int]], by_claim: bool = False) -> str:
    """A passage whose offsets in its article's text are start..end, with its `highlights` marked
    (`by_claim`: a citation's, one per claim: see _marked)."""
    # The passage is the article's text from start to end, so the highlight's offsets land inside
    # it. A passage of an index built before HTML pages were read as their extracted text is
    # not: it is marked whole.
    if len(text) == end - start:
        return _marked(text, 0, len(text), [(h_start - start, h_end - start) for h_start, h_end in highlights],
                       by_claim)
    return f"<mark>{escape(text)}</mark>"


def _marked(text: str, start: int, end: int, highlights: list[tuple[int, int]], by_claim: bool = False) -> str:
    """text[start:end], escaped, with each highlight text[h_start:h_end] marked (`by_claim`: its
    mark classed `claim-j` for each j whose highlights[j] it is, Citation.highlights having one per
    claim); the whole range when none is valid (missing, empty or outside the range; overlapping
    ones are one)."""
    claims: dict[tuple[int, int], list[int]] = {}
    for j, span in enumerate(highlights):
        if start <= span[0] < span[1] <= end:
            claims.setdefault(tuple(span), []).append(j)
    html, at = [], start
    for h_start, h_end in sorted(claims) or [(start, end)]:
        classes = " ".join(f"claim-{j}" for j in claims.get((h_start, h_end), [])) if by_claim else ""
        h_start = max(h_start, at)
        if h_start < h_end:
            tag = f'<mark class="{classes}">' if classes else "<mark>"
            html += [escape(text[at:h_start]), f"{tag}{escape(text[h_start:h_end])}</mark>"]
            at = h_end
    return "".join(html) + escape(text[at:end])


def _details(exchange: Exchange) -> str:
    answer = exchange.answer
    t = answer.timings
    first = f"{t.first_token:.2f} s" if t.first_token is not None else "no model call"
    timings = (f"Retrieval {t.retrieval:.2f} s · first token {first} · total {t.total:.2f} s"
               f" · {answer.prompt_tokens} prompt tokens, {answer.completion_tokens} answer tokens"
               f" · {escape(exchange.generator)}")
    cited = {c.chunk_id: c.n for c in answer.citations}
    hits = []
    for hit in answer.hits:
        text = hit.chunk.text
        preview = text if len(text) <= _HIT_PREVIEW_CHARS else text[:_HIT_PREVIEW_CHARS].rsplit(" ", 1)[0] + "…"
        tag = f' <span class="cited">cited as [{cited[hit.chunk.id]}]</span>' if hit.chunk.id in cited else ""
        hits.append(f'<li><span class="score" title="cosine similarity">{hit.score:.3f}</span> '
                    f'<strong>{_isolated(hit.chunk.title)}</strong> <code>{_isolated(hit.chunk.source)}</code>{tag}'
                    f'<div class="hit-text">{escape(preview)}</div></li>')
    return (f'<details class="retrieval"><summary>Retrieval details</summary><p class="timings">{timings}</p>'
            f'<p>Passages shown to the model, best match first:</p><ol class="hits">{"".join(hits)}</ol></details>')
