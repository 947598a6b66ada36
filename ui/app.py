"""The browser chat: a Gradio Blocks app over `rag.ask_stream`.

Each answer streams into the chat, followed by a "Sources" box with the passages it cites. What the
core sees as history is kept apart from what the chat shows (a `gr.State` of plain turns), so
follow-ups never feed the sources markup or error notices back to the model.

Importing this module loads no model: the core loads and caches them on the first question.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import gradio as gr

import rag
from rag.config import Settings, load_settings
from rag.errors import RagError
from rag.schema import Answer, Citation

EXAMPLES = [
    "What came out of the May 2025 Istanbul talks?",
    "Where had Putin and Erdogan met before the Astana talks?",
    "What did Putin and Erdogan plan to discuss in February?",
]

Message = dict  # {"role": "user" | "assistant", "content": ..., "metadata": ...}, Gradio's messages format


def format_sources(citations: list[Citation]) -> str:
    """Markdown for the cited passages: "[n] title — file" over the quote as a blockquote."""
    blocks = []
    for c in citations:
        quote = "\n".join(f"> {line}" for line in c.quote.splitlines() if line.strip())
        blocks.append(f"**[{c.n}]** {c.title} — `{c.source}`\n\n{quote}")
    return "\n\n".join(blocks)


def answer_messages(answer: Answer) -> list[Message]:
    """The chat messages for a finished answer: its text, then its sources in a titled box.

    The box is a separate message with a `metadata` title, which Gradio shows as a collapsible
    section in the same bubble; open by default, because the quotes are the evidence.
    """
    messages = [{"role": "assistant", "content": answer.text}]
    if answer.citations:
        messages.append(
            {
                "role": "assistant",
                "content": format_sources(answer.citations),
                "metadata": {"title": f"📚 Sources ({len(answer.citations)})"},
            }
        )
    return messages


def respond(
    question: str, messages: list[Message], turns: list[Message], settings: Settings
) -> Iterator[tuple[str, list[Message], list[Message]]]:
    """Stream the answer to `question` into the chat.

    Yields (textbox value, chat messages, turns); `turns` holds only questions and answer texts,
    and grows only when an answer arrives, so a failed question is not part of later history.
    """
    if question.strip():
        messages = messages + [{"role": "user", "content": question}]
    # Show the question at once: retrieval, and model loading on the first question, take a while.
    yield "", messages, turns
    text = ""
    try:
        for item in rag.ask_stream(question, history=turns, settings=settings):
            if isinstance(item, Answer):
                answer = item
            else:
                text += item
                yield "", messages + [{"role": "assistant", "content": text}], turns
    except RagError as exc:
        yield "", messages + [{"role": "assistant", "content": f"⚠️ {exc}"}], turns
        return
    turns = turns + [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
    yield "", messages + answer_messages(answer), turns


def _example_text(example: gr.SelectData) -> str:
    return example.value["text"]


def chat_panel(settings: Settings) -> None:
    """The chat, its input and buttons, with their events; call inside a `gr.Blocks` context."""
    turns = gr.State([])
    chatbot = gr.Chatbot(
        label="Chat",
        height=600,
        examples=[{"text": q} for q in EXAMPLES],
        placeholder="Ask a question about the indexed news articles.",
        buttons=["copy", "copy_all"],
    )
    question = gr.Textbox(label="Question", placeholder="Ask about the articles…", show_label=False, submit_btn=True)
    gr.ClearButton([question, chatbot, turns], value="Clear conversation")

    answer = partial(respond, settings=settings)
    io = dict(inputs=[question, chatbot, turns], outputs=[question, chatbot, turns])
    question.submit(answer, **io, api_name="ask")
    # Clicking an example on the empty chat asks it right away.
    chatbot.example_select(_example_text, None, question, api_visibility="private").then(
        answer, **io, api_visibility="private"
    )
    # The chat's own trash icon empties the chat only; the core's history must go with it.
    chatbot.clear(lambda: [], None, turns, api_visibility="private")


def build_app(settings: Settings | None = None) -> gr.Blocks:
    # Resolved once here, so a bad rag.toml fails at startup rather than on the first question.
    settings = settings or load_settings()
    # analytics off: the app is offline, and Gradio would otherwise call home on start.
    with gr.Blocks(title="Ask the news", analytics_enabled=False) as app:
        gr.Markdown(
            "## Ask the news\nAnswers come only from the indexed articles; each cites the passages it uses."
        )
        chat_panel(settings)
    return app


def launch(host: str = "127.0.0.1", port: int = 7860, settings: Settings | None = None, share: bool = False) -> None:
    """Serve the app until interrupted; `rag ui` calls this."""
    build_app(settings).launch(server_name=host, server_port=port, share=share)
