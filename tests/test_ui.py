"""The chat app: its message handling with a fake core, then the real app served on a local port
and driven through gradio_client, as a browser would drive it."""

import socket

import pytest
from gradio_client import Client

import rag
from conftest import ISTANBUL
from rag.config import Settings
from rag.schema import Answer, Citation, Timings
from ui.app import build_app, respond


def _fake_ask_stream(calls):
    def ask_stream(question, *, history=None, settings=None, **_):
        calls.append(list(history))
        yield "Prisoners "
        yield "were swapped [1]."
        citation = Citation(1, "a.txt", "Talks", "a-0", "They swapped\n1,000 prisoners.", 10, 38)
        yield Answer(question, "Prisoners were swapped [1].", [citation], False, Timings())

    return ask_stream


def test_answer_streams_then_shows_sources_and_follow_up_gets_plain_turns(monkeypatch):
    calls = []
    monkeypatch.setattr(rag, "ask_stream", _fake_ask_stream(calls))

    steps = list(respond("What happened?", [], [], Settings()))
    assert [chat[-1]["content"] for _, chat, _ in steps[:3]] == ["What happened?", "Prisoners ", "Prisoners were swapped [1]."]
    _, chat, turns = steps[-1]
    assert chat == [
        {"role": "user", "content": "What happened?"},
        {"role": "assistant", "content": "Prisoners were swapped [1]."},
        {
            "role": "assistant",
            "content": "**[1]** Talks — `a.txt`\n\n> They swapped\n> 1,000 prisoners.",
            "metadata": {"title": "📚 Sources (1)"},
        },
    ]

    list(respond("And then?", chat, turns, Settings()))
    assert calls[1] == [
        {"role": "user", "content": "What happened?"},
        {"role": "assistant", "content": "Prisoners were swapped [1]."},
    ]


def test_core_error_is_a_chat_message_and_stays_out_of_the_history(monkeypatch):
    def ask_stream(question, **_):
        raise rag.IndexUnusableError("no index at /x: run `rag index seeds`")
        yield

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, chat, turns = list(respond("What happened?", [], [], Settings()))[-1]
    assert chat[-1] == {"role": "assistant", "content": "⚠️ no index at /x: run `rag index seeds`"}
    assert turns == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(settings):
    app = build_app(settings)
    app.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    yield Client(app.local_url, verbose=False)
    app.close()


def _text(message: dict) -> str:
    return "".join(part["text"] for part in message["content"] if part["type"] == "text")


@pytest.mark.slow
def test_app_answers_with_the_prisoner_exchange_and_cites_its_article(client):
    _, chat = client.predict("What came out of the May 2025 Istanbul talks?", api_name="/ask")
    assert [m["role"] for m in chat] == ["user", "assistant", "assistant"]
    answer, sources = _text(chat[1]), _text(chat[2])
    assert "1,000" in answer or "prisoner" in answer.lower(), answer
    assert chat[2]["metadata"]["title"].startswith("📚 Sources")
    assert f"`{ISTANBUL}`" in sources, sources


def test_app_shows_a_message_for_an_empty_question(client):
    _, chat = client.predict("   ", api_name="/ask")
    assert [m["role"] for m in chat] == ["assistant"]
    assert _text(chat[0]).startswith("⚠️") and "empty" in _text(chat[0])
