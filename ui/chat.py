"""The chat tab: streamed answers with citation chips, the sources panel, retry, undo and clear.

The conversation lives in one `gr.State` per browser session: a list of `Exchange`s. The chat
messages, the sources panel and the history the core sees are all derived from it, so they
cannot drift apart, and an error or the sources markup never reaches the model as history.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import gradio as gr

import rag
from rag import library
from rag.config import Settings
from rag.errors import IncompleteAnswerError, IndexUnusableError, ModelMissingError, RagError
from rag.answer import best_sentence
from rag.pipeline import require_answer
from rag.schema import Answer, Checking, Correcting, Retrieved
from ui import assets, render

log = logging.getLogger(__name__)

EXAMPLES = [
    "What came out of the May 2025 Istanbul talks?",
    "Where had Putin and Erdogan met before the Astana talks?",
    "What did Putin and Erdogan plan to discuss in February?",
]

Message = dict  # {"role": "user" | "assistant", "content": str}: Gradio's messages format


@dataclass
class Exchange:
    """One question of the conversation and what came of it: an answer or an error message."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    generator: str = ""  # the model that answered, for the details
    scope: str = ""  # the articles it was asked of, when not all (rag.Scope.described): "dated 2024 or later"


def chat_messages(exchanges: list[Exchange], show_details: bool, streaming: str | None = None,
                  found: int = 0, checking: int = 0, correcting: bool = False) -> list[Message]:
    """The chat for `exchanges`; `streaming` is the text so far of an answer to the last one,
    `found` the number of passages it comes from, once retrieval is done, `checking` the
    replies the model is asked for to check it (a Checking), and `correcting` whether it is asked
    once more about a yes/no question it declined (a Correcting)."""
    messages: list[Message] = []
    for k, e in enumerate(exchanges):
        if e.question.strip():
            messages.append({"role": "user", "content": render.question_html(e.question)})
        if e.answer is not None:
            content = render.answer_html(k, e.answer, show_details)
        elif e.error is not None:
            content = render.error_html(e.error)
        elif streaming:
            content = render.streaming_html(k, streaming, checking, correcting)
        else:
            content = render.pending_html(found)
        messages.append({"role": "assistant", "content": content})
    return messages


def history(exchanges: list[Exchange]) -> list[Message]:
    """What the core sees of the conversation: answered questions and the answers' checked text."""
    return [
        turn
        for e in exchanges if e.answer is not None
        for turn in ({"role": "user", "content": e.question}, {"role": "assistant", "content": e.answer.text})
    ]


def explain(exc: RagError) -> str:
    """The core's message (which names the fix), with what it means for someone in the browser."""
    if isinstance(exc, IndexUnusableError):
        return f"The articles' index cannot be used. {exc}"
    if isinstance(exc, ModelMissingError):
        return f"The language model is not available. {exc}"
    return str(exc)


def respond(question: str, exchanges: list[Exchange], top_k: int, generator: str, show_details: bool,
            since: str = "", until: str = "", within: str = "", outlet: str = "",
            *, settings: Settings) -> Iterator[tuple]:
    """Stream the answer to `question`; yields (textbox, chat, exchanges, panel).

    `top_k` and `generator` come from the session's Settings tab and override the app's
    settings for this question only; `since`, `until`, `within` and `outlet` from the fields
    under the question, which keep it to some articles (rag.Scope; empty: all of them).
    """
    exchanges = list(exchanges or [])
    run = dataclasses.replace(settings, top_k=int(top_k), generator=generator)
    asked = Exchange(question=question, generator=generator)
    # Show the question at once: retrieval, and loading a model on first use, take a while.
    yield "", chat_messages(exchanges + [asked], show_details), exchanges, gr.skip()
    text, answer = "", None
    try:
        scope = rag.Scope(since=since, until=until, within=within, outlet=outlet)
        asked.scope = scope.described() if scope else ""
        asking = rag.ask_stream(question, history=history(exchanges), settings=run, scope=scope)
        for item in require_answer(asking, question):
            if isinstance(item, Retrieved):  # evidence first, while the model reads it
                found = [(hit.chunk, best_sentence(hit.chunk, question)) for hit in item.hits]
                yield "", chat_messages(exchanges + [asked], show_details, found=len(found)), exchanges, \
                    render.evidence_panel(question, found, asked.scope)
            elif isinstance(item, Checking):  # the answer may still be withdrawn: say so while it is checked
                yield "", chat_messages(exchanges + [asked], show_details, streaming=text, checking=item.samples), \
                    exchanges, gr.skip()
            elif isinstance(item, Correcting):  # the decline may still become "No, in fact, ...": say so
                yield "", chat_messages(exchanges + [asked], show_details, streaming=text, correcting=True), \
                    exchanges, gr.skip()
            elif isinstance(item, Answer):
                answer = item
            else:
                text += item
                yield "", chat_messages(exchanges + [asked], show_details, streaming=text), exchanges, gr.skip()
    except RagError as exc:
        asked.error = explain(exc)
    except IncompleteAnswerError as exc:
        # The words streamed so far were never checked (the check can replace them all), so they
        # are not left standing as if they were the answer.
        log.error("%s", exc)
        asked.error = ("The answer broke off before it was checked against the articles, so it is not shown. "
                       "Retry to ask again; the server's log has the details.")
    except Exception as exc:  # the app's edge: a bug becomes a message here and a traceback in the log
        log.exception("answering %r failed", question)
        asked.error = f"Internal error ({type(exc).__name__}: {exc}); the server's log has the details."
    asked.answer = answer
    exchanges.append(asked)
    yield "", chat_messages(exchanges, show_details), exchanges, render.sources_panel(exchanges, show_details)


def retry(exchanges: list[Exchange], top_k: int, generator: str, show_details: bool,
          since: str = "", until: str = "", within: str = "", outlet: str = "", *,
          settings: Settings) -> Iterator[tuple]:
    """Ask the last question again (after an error, or with other settings or articles)."""
    if not exchanges:
        return
    yield from respond(exchanges[-1].question, exchanges[:-1], top_k, generator, show_details,
                       since, until, within, outlet, settings=settings)


def undo(exchanges: list[Exchange], show_details: bool) -> tuple:
    """Drop the last exchange and put its question back in the textbox, to edit and ask again."""
    if not exchanges:
        return "", [], [], render.sources_panel([], show_details)
    kept = exchanges[:-1]
    return exchanges[-1].question, chat_messages(kept, show_details), kept, render.sources_panel(kept, show_details)


def clear(show_details: bool) -> tuple:
    return "", [], [], render.sources_panel([], show_details)


# A conversation file is read once, by Gradio copying it into its own cache as it sends the
# button's value (milliseconds after it is written); one a minute old is no longer needed.
_TRANSCRIPT_KEPT_S = 60


@cache
def _transcripts() -> tempfile.TemporaryDirectory:
    """This process's folder of conversation files, removed when the process ends (a folder for
    each answer was left in the temp folder before, for good)."""
    return tempfile.TemporaryDirectory(prefix="rag-conversations-")


def transcript(exchanges: list[Exchange]) -> dict:
    """The "Download conversation" button, holding the conversation as Markdown
    (render.conversation_markdown) in a file of its own; not clickable while there is none."""
    if not exchanges:
        return gr.update(value=None, interactive=False)
    folder = Path(_transcripts().name)
    for old in folder.iterdir():
        if old.stat().st_mtime < time.time() - _TRANSCRIPT_KEPT_S:
            shutil.rmtree(old, ignore_errors=True)
    text = render.conversation_markdown(exchanges)
    # A folder named by the content, so that two browser sessions never write one file
    # differently, and the file downloads as conversation.md.
    path = folder / hashlib.sha256(text.encode()).hexdigest()[:16] / "conversation.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return gr.update(value=str(path), interactive=True)


def redraw(exchanges: list[Exchange], show_details: bool) -> tuple:
    """The chat and panel again, after the details setting changed."""
    return chat_messages(exchanges, show_details), render.sources_panel(exchanges, show_details)


def article_html(cited: dict, settings: Settings) -> str:
    """The whole-article view for a citation's {source, start, end, highlights}, sent by the browser.

    Only an article the index lists is read (library.read_article refuses any other name).
    """
    try:
        article = library.read_article(str(cited["source"]), settings=settings)
        return render.article_view(article, int(cited["start"]), int(cited["end"]),
                                   render.highlights_of(cited["highlights"]))
    except (RagError, KeyError, TypeError, ValueError, OverflowError) as exc:  # OverflowError: "end": 1e999
        return render.article_error(str(exc))


def _example_text(example: gr.SelectData) -> str:
    return example.value["text"]


def chat_tab(settings: Settings, top_k: gr.Slider, generator: gr.Radio,
             show_details: gr.Checkbox) -> tuple[gr.Textbox, gr.Accordion]:
    """The chat and its sources panel with their events; call inside a `gr.Tab`. Returns the
    field of the folder or file questions are kept to, and the fields' accordion, which the
    Library's "Ask about this file" fills and opens."""
    exchanges = gr.State([])
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="Chat", height=600, examples=[{"text": q} for q in EXAMPLES],
                placeholder="Ask a question about the indexed news articles.",
                # The answer is HTML (the chips); copying would copy the markup, so no copy buttons.
                buttons=[], elem_id="chat",
                # Messages are HTML built from escaped text, never Markdown: an article's
                # "[statement](http://...)" or "![x](http://.../beacon.png)" copied into an answer
                # became a live link and an image fetched from that server (found by fuzzing).
                # Nor LaTeX: Gradio typesets "$$...$$" by default, so an article's "$$\rule{99em}
                # {99em}$$" (a box of any size) or "\color{red}" was drawn instead of shown as written.
                render_markdown=False, latex_delimiters=[],
            )
            question = gr.Textbox(placeholder="Ask about the articles…", show_label=False, submit_btn=True,
                                  elem_id="question")
            with gr.Accordion("Only some articles", open=False, elem_id="scope") as scope_fields:
                with gr.Row():
                    since = gr.Textbox("", label="From", placeholder="2024 or May 2024", elem_id="scope-since")
                    until = gr.Textbox("", label="To", placeholder="2025-06-30", elem_id="scope-until")
                    within = gr.Textbox("", label="Folder or file", placeholder="business", elem_id="scope-within",
                                        info="as the Library names it")
                    outlet = gr.Textbox("", label="Outlet", placeholder="BBC News", elem_id="scope-outlet")
            with gr.Row():
                clear_button = gr.Button("Clear conversation", size="sm", variant="secondary")
                # The answers with their sources as references, to keep: the chat's HTML cannot be copied.
                download = gr.DownloadButton("Download conversation", size="sm", variant="secondary",
                                             interactive=False, elem_id="download-conversation")
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            def view_article(cited: dict) -> str:  # the panel's script calls it by this name
                return article_html(cited, settings)

            sources = gr.HTML(render.sources_panel([], True), js_on_load=assets.PANEL_JS,
                              server_functions=[view_article], elem_id="sources")

    asking = dict(outputs=[question, chatbot, exchanges, sources], concurrency_id="answer", concurrency_limit=1)
    choices = [top_k, generator, show_details, since, until, within, outlet]
    ask = partial(respond, settings=settings)
    kept = dict(fn=transcript, inputs=[exchanges], outputs=[download], api_visibility="private")
    question.submit(ask, [question, exchanges, *choices], api_name="ask", **asking).then(**kept)
    # Clicking an example on the empty chat asks it right away.
    chatbot.example_select(_example_text, None, question, api_visibility="private").then(
        ask, [question, exchanges, *choices], api_visibility="private", **asking
    ).then(**kept)
    chatbot.retry(partial(retry, settings=settings), [exchanges, *choices], api_name="retry", **asking).then(**kept)
    chatbot.undo(undo, [exchanges, show_details],
                 [question, chatbot, exchanges, sources], api_name="undo").then(**kept)
    for event in (chatbot.clear, clear_button.click):
        event(clear, [show_details], [question, chatbot, exchanges, sources],
              api_visibility="private").then(**kept)
    show_details.change(redraw, [exchanges, show_details], [chatbot, sources],
                        api_visibility="private")
    return within, scope_fields
