"""`rag serve`: the real openai client pointed at the server on a loopback port, over the seed
index. Two tests ask the real model; the others check requests, errors, turns and the login
with a fake core (`rag.ask_stream` replaced, as tests/test_ui.py does)."""

import base64
import http.client
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

import rag
from conftest import ENDING_EARLY, ISTANBUL, SEEDS, core_ending_with, free_port
from rag.cli import main
from rag.errors import BadInputError
from rag.schema import Answer, Checking, Chunk, Citation, Correcting, Hit, Retrieved, Timings
from rag.server import serve

HEADLINE = "What came out of the May 2025 Istanbul talks?"
MODEL = "qwen2.5-coder-1.5b"
QUOTE = "They met in Istanbul. They swapped 1,000 prisoners."


@pytest.fixture(scope="module")
def server(settings):
    port = free_port()
    running = serve(settings, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)


def _fake(text="Prisoners were swapped [1].", pieces=("Prisoners were ", "swapped [1]."), abstained=False, log=None,
          fail_after=None, url=None, decline_logprob=None, checking=False, correcting=False, cut_off=False):
    def ask_stream(question, *, history=None, settings=None, **_):
        if log is not None:
            log.append({"question": question, "history": history, "generator": settings.generator})
        hit = Hit(Chunk("a-0", ISTANBUL, "Talks", QUOTE, 100, 100 + len(QUOTE), 0), 0.7)
        yield Retrieved([hit], 0.01)
        for k, piece in enumerate(pieces):
            if k == fail_after:
                raise RuntimeError("the model failed")
            yield piece
        if checking:
            yield Checking(samples=3)
        if correcting:
            yield Correcting()
        citations = [] if abstained else [Citation(1, ISTANBUL, "Talks", "a-0", QUOTE, 100, 100 + len(QUOTE),
                                                            [(122, 151)], url=url)]
        yield Answer(question, text, citations, abstained, Timings(0.01, 0.5, 1.0), hits=[hit], prompt_tokens=700,
                     completion_tokens=9, decline_logprob=decline_logprob, cut_off=cut_off)

    return ask_stream


@pytest.mark.slow
def test_the_headline_question_is_answered_with_its_citation(client):
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": HEADLINE}])
    message = reply.choices[0].message
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    assert "[1]" in message.content and ("prisoner" in message.content.lower() or "1,000" in message.content)
    assert message.abstained is False
    cited = {c["source"]: c for c in message.citations}
    assert ISTANBUL in cited, message.citations
    istanbul = cited[ISTANBUL]
    assert Path(istanbul["url_or_path"]) == SEEDS.resolve() / ISTANBUL
    assert all(istanbul["start"] <= start < end <= istanbul["end"] for start, end in istanbul["highlights"])
    assert istanbul["highlights"]
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0


@pytest.mark.slow
def test_the_headline_answer_streams_and_its_last_chunk_carries_the_citations(client):
    chunks = list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": HEADLINE}],
                                                 stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop" and last.delta.abstained is False
    assert "[1]" in streamed and "[1]" in last.delta.checked_content
    # What was streamed is the checked answer, or ends by saying what the check changed.
    assert (_words(streamed) == _words(last.delta.checked_content)
            or streamed.endswith(f"the answer is: {last.delta.checked_content}"))
    assert ISTANBUL in {c["source"] for c in last.delta.citations}
    assert len([c for c in chunks if c.choices[0].finish_reason]) == 1


def _words(text):
    from rag.server import _words

    return _words(text)


def test_a_bad_request_gets_openais_error_object_and_400(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "   "}])
    assert refused.value.status_code == 400
    assert refused.value.body == {"message": "messages[0].content is empty", "type": "invalid_request_error",
                                  "param": "messages[0].content", "code": None}


@pytest.mark.parametrize("body, param, says", [
    (b'{"messages": [{"role": "user", "content": "caf\xe9"}]}', None, "not valid UTF-8"),
    (b'{"messages": [{"role": "user", "content": "\\ud800 talks"}]}', "messages[0].content", "lone surrogates"),
    (b'{"messages": [{"role": "user", "content": 42}]}', "messages[0].content", "must be text"),
    (b'{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}', "messages[0].content", "must be text"),
    (b'{"model": "qwen2.5-coder-1.5b"}', "messages", "non-empty list"),
    (b'{"messages": []}', "messages", "non-empty list"),
    (b'{"messages": [{"role": "tool", "content": "x"}]}', "messages[0].role", "valid roles"),
    (b'{"messages": [{"role": "user", "content": "Who met?"}, {"role": "assistant", "content": "Putin."}]}',
     "messages[1].role", "must be the user's question"),
    (b'{"messages": [{"role": "user", "content": "Who met?"}], "stream": "yes"}', "stream", "true or false"),
    (b'{"messages": [{"role": "user", "content": "Who met?"}], "n": 2}', "n", "n must be 1"),
    # Found by fuzzing: a text part without text reached the core as the question "None", and
    # include_usage "no" turned usage on.
    (b'{"messages": [{"role": "user", "content": [{"type": "text", "text": null}]}]}', "messages[0].content",
     "must be text"),
    (b'{"messages": [{"role": "user", "content": "Who met?"}], "stream_options": {"include_usage": "no"}}',
     "stream_options.include_usage", "true or false"),
    (b'{"messages": [', None, "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, None, "not valid JSON"),  # a RecursionError was a 500 (found by fuzzing)
    (b'["Who met?"]', None, "JSON object"),
    # Refused by the core's own check, before any model is loaded.
    (b'{"messages": [{"role": "user", "content": "' + b"why " * 300 + b'"}]}', "messages", "the limit is 1000"),
])
def test_bad_requests_are_refused_with_the_field_that_is_wrong(server, body, param, says):
    reply = httpx.post(f"{server}/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and says in error["message"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/ask"])
@pytest.mark.parametrize("framing", ["Content-Length: 50000000", "Transfer-Encoding: chunked"])
def test_a_body_over_the_limit_is_refused_before_it_is_all_read(server, path, framing):
    """A 50 MB body was read whole, into memory, before its size was checked: the client had to
    send all of it to be told 413. Now the declared length is refused at once, and a body sent
    without one (chunked) as soon as what has arrived passes the limit."""
    host, port = server.removeprefix("http://").split(":")
    chunked = framing.startswith("Transfer")
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(head.encode())
        piece = b'{"messages": [' + b" " * 100_000
        for _ in range(12 if chunked else 1):  # past the 1,000,000-byte limit, but never the whole body
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        reply = http.client.HTTPResponse(conn)
        reply.begin()
        error = json.loads(reply.read())["error"]
    assert reply.status == 413 and error["code"] == "request_too_large", error
    assert "the limit is 1,000,000 bytes" in error["message"]


def test_null_for_a_field_with_a_default_is_the_default(client, monkeypatch):
    """OpenAI's schema allows null for stream and n; both were refused with a 400."""
    monkeypatch.setattr(rag, "ask_stream", _fake())
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": HEADLINE}],
                                           extra_body={"stream": None, "n": None})
    assert reply.choices[0].message.content == "Prisoners were swapped [1]."


def test_an_unknown_model_is_404_as_in_openai(client):
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": HEADLINE}])
    assert refused.value.body["code"] == "model_not_found" and "qwen2.5-coder-0.5b" in refused.value.body["message"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/ask"])
def test_the_answer_endpoints_ask_for_post(server, path, monkeypatch):
    monkeypatch.setattr(rag, "ask_stream", _fake())
    reply = httpx.get(f"{server}{path}")
    assert reply.status_code == 405 and reply.headers["allow"] == "POST"
    assert reply.json()["error"]["code"] == "method_not_allowed"
    # a model given as anything but a name is a bad request, not an unknown model
    reply = httpx.post(f"{server}{path}", json={"model": ["x"], "question": "Who met?",
                                                 "messages": [{"role": "user", "content": "Who met?"}]})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "model", reply.text


def test_models_health_and_the_web_app_share_the_port(client, server):
    assert [m.id for m in client.models.list()] == ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]
    health = httpx.get(f"{server}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["articles"] == 5
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and "<html" in page.text


def test_the_articles_a_search_finds_are_listed(server):
    """A tool can see what the library holds, a page at a time, as the web app's Library shows it."""
    found = httpx.get(f"{server}/api/articles", params={"q": "GRAIN corridor"}).json()
    assert found["total"] == 1 and [a["source"] for a in found["data"]] == ["003_1ca7cd9bf0959689.txt"]
    assert set(found["data"][0]) >= {"source", "title", "outlet", "published", "dates", "file", "chunks"}
    page = httpx.get(f"{server}/api/articles", params={"limit": "2"}).json()
    assert page["total"] == 5 and len(page["data"]) == 2
    for limit in ("0", "1001", "two", "-1"):
        refused = httpx.get(f"{server}/api/articles", params={"limit": limit})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "limit", refused.text


def test_the_passages_a_search_finds_are_given_as_citations_without_the_model(server):
    """A tool with its own model (or none) can use the library's retrieval: the passages, best
    first, each with its article's file, offsets and the sentence closest to the query."""
    found = httpx.get(f"{server}/api/search", params={"q": "Where did Putin and Erdogan meet in Kazakhstan?",
                                                      "limit": "3"}).json()
    assert [p["n"] for p in found["data"]] == [1, 2, 3]
    first = found["data"][0]
    assert first["source"] == "000_011dc16fc288ae1d.txt" and first["quote"] == (SEEDS / first["source"]).read_text(
        encoding="utf-8")[first["start"]:first["end"]]
    assert first["score"] > 0.3 and Path(first["url_or_path"]) == SEEDS.resolve() / first["source"]
    for params, param in [({"q": "talks", "limit": "51"}, "limit"), ({"q": "talks", "limit": "0"}, "limit"),
                          ({"q": " "}, "q"), ({"q": "talks", "since": "spring 2025"}, "scope")]:
        refused = httpx.get(f"{server}/api/search", params=params)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param, refused.text
    # Kept to some articles (rag.Scope): one file here; a scope no article is in is refused.
    scoped = httpx.get(f"{server}/api/search", params={"q": "Where did Putin and Erdogan meet?",
                                                       "within": ISTANBUL}).json()
    assert {p["source"] for p in scoped["data"]} == {ISTANBUL}
    listed = httpx.get(f"{server}/api/articles", params={"within": ISTANBUL}).json()
    assert listed["total"] == 1 and listed["data"][0]["source"] == ISTANBUL
    assert httpx.get(f"{server}/api/articles", params={"since": "someday"}).json()["error"]["param"] == "scope"
    empty = httpx.get(f"{server}/api/search", params={"q": "talks", "until": "1999"})
    assert empty.status_code == 400
    assert "no indexed article is dated 1999 or earlier" in empty.json()["error"]["message"]


def test_a_question_s_scope_reaches_the_core_from_both_question_routes(client, server, monkeypatch):
    """The OpenAI clients send it as extra_body; a malformed one is refused before any answer."""
    scopes = []

    def ask_stream(question, *, scope=None, **rest):
        scopes.append(scope)
        yield from _fake()(question, **rest)

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Who met?"}],
                                   extra_body={"scope": {"since": "2025-05", "within": "europe/"}})
    httpx.post(f"{server}/api/ask", json={"question": "Who met?", "scope": {"outlet": "TRT World"}}).raise_for_status()
    assert scopes == [rag.Scope(since="2025-05", within="europe"), rag.Scope(outlet="TRT World")]
    for scope in ({"from": "2024"}, ["2024"], {"until": 2024}):
        refused = httpx.post(f"{server}/api/ask", json={"question": "Who met?", "scope": scope})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "scope", refused.text
    assert len(scopes) == 2


def test_the_conversation_is_the_history_and_a_system_message_stays_out(client, monkeypatch):
    log = []
    monkeypatch.setattr(rag, "ask_stream", _fake(log=log))
    reply = client.chat.completions.create(model="qwen2.5-coder-0.5b", messages=[
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Where were the talks?"},
        {"role": "assistant", "content": "In Istanbul [1]."},
        {"role": "user", "content": [{"type": "text", "text": "What came of them?"}]},
    ])
    assert log == [{"question": "What came of them?", "generator": "qwen2.5-coder-0.5b",
                    "history": [{"role": "user", "content": "Where were the talks?"},
                                {"role": "assistant", "content": "In Istanbul [1]."}]}]
    message = reply.choices[0].message
    assert message.content == "Prisoners were swapped [1]." and reply.usage.total_tokens == 709
    assert message.citations == [{"n": 1, "source": ISTANBUL, "title": "Talks",
                                  "url_or_path": str(SEEDS.resolve() / ISTANBUL), "quote": QUOTE, "start": 100,
                                  "end": 151, "highlights": [[122, 151]], "score": 0.0, "date": None, "outlet": None,
                                  "page": None}]


def test_an_answer_the_token_limit_stopped_finishes_for_length(client, monkeypatch):
    monkeypatch.setattr(rag, "ask_stream", _fake(cut_off=True))
    question = dict(model=MODEL, messages=[{"role": "user", "content": "Where were the talks?"}])
    assert client.chat.completions.create(**question).choices[0].finish_reason == "length"
    chunks = list(client.chat.completions.create(**question, stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["length"]


def test_a_stream_the_check_changed_says_so_in_its_last_piece(client, monkeypatch):
    monkeypatch.setattr(rag, "ask_stream", _fake(text="The articles do not say.", abstained=True,
                                                 pieces=("The secret word is ", "FENCE [1].")))
    chunks = list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Who?"}],
                                                 stream=True, stream_options={"include_usage": True}))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == ("The secret word is FENCE [1].\n\n"
                        "Checked against the articles, the answer is: The articles do not say.")
    last = chunks[-2].choices[0].delta
    assert last.abstained is True and last.citations == [] and last.checked_content == "The articles do not say."
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 700


def test_a_second_opinion_is_announced_by_a_comment_that_clients_skip(server, client, monkeypatch):
    """During a check the stream sent nothing for up to ~15 s; a client or proxy saw a stalled answer."""
    monkeypatch.setattr(rag, "ask_stream", _fake(checking=True))
    question = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Who?"}]}
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=question) as reply:
        lines = [line for line in reply.iter_lines() if line]
    comment = lines.index(": checking the answer: the model answers again, up to 3 times")
    assert '"swapped [1]."' in lines[comment - 1] and '"checked_content"' in lines[comment + 1]
    chunks = list(client.chat.completions.create(**question))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Prisoners were swapped [1]."


def test_a_yes_no_question_asked_once_more_is_announced_by_a_comment_too(server, monkeypatch):
    monkeypatch.setattr(rag, "ask_stream", _fake(correcting=True))
    question = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Was it?"}]}
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=question) as reply:
        lines = [line for line in reply.iter_lines() if line]
    comment = lines.index(": the articles may say otherwise than the question: the model answers once more")
    assert '"checked_content"' in lines[comment + 1]


def test_spacing_or_a_marker_moved_past_the_stop_is_not_a_change(client, monkeypatch):
    monkeypatch.setattr(rag, "ask_stream", _fake(pieces=("Prisoners  were swapped. ", "[1]")))
    chunks = list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Who?"}],
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Prisoners  were swapped. [1]"


def test_a_failure_mid_stream_arrives_as_an_error_event(client, monkeypatch):
    monkeypatch.setattr(rag, "ask_stream", _fake(fail_after=1))
    with pytest.raises(openai.APIError, match="internal error"):
        list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Who?"}],
                                            stream=True))


@ENDING_EARLY
def test_a_core_that_ends_without_an_answer_is_a_clear_error_and_the_server_answers_on(server, items, monkeypatch):
    """Such a core was a 500 about StopIteration or a missing attribute, a stream that ended with
    [DONE] and no answer, or /api/ask's 200 with the passages as the answer."""
    monkeypatch.setattr(rag, "ask_stream", core_ending_with(items))
    question = {"messages": [{"role": "user", "content": "Who?"}]}
    for path, body in [("/v1/chat/completions", question), ("/api/ask", {"question": "Who?"})]:
        reply = httpx.post(f"{server}{path}", json=body)
        assert reply.status_code == 500, reply.text
        assert reply.json()["error"]["code"] == "answer_incomplete", reply.text
        assert "ended before the answer was checked" in reply.json()["error"]["message"]
    stream = httpx.post(f"{server}/v1/chat/completions", json={**question, "stream": True})
    events = [line.removeprefix("data: ") for line in stream.text.splitlines() if line]
    if items:  # the stream had begun: the error is its last event, as for a failure mid-stream
        assert json.loads(events[-1])["error"]["code"] == "answer_incomplete", stream.text
    else:
        assert stream.status_code == 500 and stream.json()["error"]["code"] == "answer_incomplete"
    monkeypatch.setattr(rag, "ask_stream", _fake())
    reply = httpx.post(f"{server}/v1/chat/completions", json=question, timeout=5)
    assert reply.json()["choices"][0]["message"]["content"] == "Prisoners were swapped [1]."


def _core_holding_the_model(at_model: list, most: list, leaving: tuple[int, float], others: float):
    """A fake core that lists the questions at the model while it answers (and in `most` how many
    there were): "leaving" writes its three pieces `leaving[0]` times, `leaving[1]` s each; the
    others once, `others` s each."""
    def ask_stream(question, **kwargs):
        at_model.append(question)
        most.append(len(at_model))
        repeats, delay = leaving if question == "leaving" else (1, others)
        try:
            for piece in ["Prisoners ", "were ", "swapped [1]."] * repeats:
                time.sleep(delay)
                yield piece
            yield Answer(question, "Prisoners were swapped [1].", [], False, Timings())
        finally:
            at_model.remove(question)

    return ask_stream


def test_concurrent_requests_take_turns_and_a_client_that_leaves_frees_its_turn(server, client, monkeypatch):
    at_model, most = [], []
    # The one that leaves would hold the model for 20 s if its answer went on without it.
    monkeypatch.setattr(rag, "ask_stream", _core_holding_the_model(at_model, most, leaving=(100, 0.2), others=0.1))
    with httpx.stream("POST", f"{server}/v1/chat/completions", timeout=10,
                      json={"stream": True, "messages": [{"role": "user", "content": "leaving"}]}) as leaving:
        next(leaving.iter_lines())
    started, replies = time.monotonic(), []
    threads = [threading.Thread(target=lambda q=q: replies.append(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": q}], timeout=10))) for q in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert [r.choices[0].message.content for r in replies] == ["Prisoners were swapped [1]."] * 3
    assert max(most) == 1  # never two answers at once
    assert time.monotonic() - started < 5  # three answers of 0.3 s each, after the one that left


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "leaving"}]}),
    ("/api/ask", {"question": "leaving"}),
])
def test_a_client_that_leaves_before_a_whole_answer_frees_its_turn(server, monkeypatch, path, body):
    """Only a stream noticed its client leaving: a client that gave up on a whole answer (the
    openai client's timeout, which then asks again) kept the model for the rest of that answer,
    and every question behind it waited for nobody's answer."""
    at_model = []
    monkeypatch.setattr(rag, "ask_stream", _core_holding_the_model(at_model, [], leaving=(20, 0.2), others=0))
    with pytest.raises(httpx.ReadTimeout):  # the answer takes 12 s; the client leaves after 1
        httpx.post(f"{server}{path}", json=body, timeout=1)
    started = time.monotonic()
    reply = httpx.post(f"{server}/v1/chat/completions", json={"messages": [{"role": "user", "content": "next"}]},
                       timeout=15)
    assert reply.json()["choices"][0]["message"]["content"] == "Prisoners were swapped [1]."
    assert time.monotonic() - started < 3 and at_model == []


def test_more_questions_queued_than_the_thread_pool_holds_all_get_their_answers(server, monkeypatch):
    """Each question waited for its turn in a thread of the pool (40 threads) that the answer
    being made needs for each of its pieces: with 40 queued behind a stream, the stream had no
    thread to go on with, and the server hung for good."""

    def ask_stream(question, **kwargs):
        for piece in ["Prisoners ", "were ", "swapped [1]."] * (5 if question == "first" else 1):
            time.sleep(0.05 if question == "first" else 0)
            yield piece
        yield Answer(question, "Prisoners were swapped [1].", [], False, Timings())

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    question = {"messages": [{"role": "user", "content": "next"}]}
    replies = []
    with httpx.stream("POST", f"{server}/v1/chat/completions", timeout=30,
                      json={"stream": True, "messages": [{"role": "user", "content": "first"}]}) as first:
        lines = first.iter_lines()
        next(lines)  # it holds the turn
        threads = [threading.Thread(target=lambda: replies.append(httpx.post(
            f"{server}/v1/chat/completions", json=question, timeout=30))) for _ in range(45)]
        for thread in threads:
            thread.start()
        time.sleep(1)  # all queued
        streamed = [line for line in lines if line]
    for thread in threads:
        thread.join(30)
    assert streamed[-1] == "data: [DONE]"
    assert [r.json()["choices"][0]["message"]["content"] for r in replies] == ["Prisoners were swapped [1]."] * 45


def test_api_ask_returns_the_whole_answer(server, monkeypatch):
    monkeypatch.setattr(rag, "ask_stream", _fake())
    reply = httpx.post(f"{server}/api/ask", json={"question": "Who?", "history": [], "top_k": 2})
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["text"] == "Prisoners were swapped [1]." and answer["citations"][0]["source"] == ISTANBUL
    assert answer["hits"][0]["chunk"]["id"] == "a-0" and answer["timings"]["total"] == 1.0
    for body, param in [({"question": "\ud800"}, "question"), ({"question": "Who?", "top_k": 0}, "top_k"),
                        ({"question": "Who?", "history": [{"role": "robot", "content": "x"}]}, "history[0].role")]:
        refused = httpx.post(f"{server}/api/ask", content=_json(body), headers={"Content-Type": "application/json"})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param


def test_answers_carry_only_json_numbers_and_links_only_to_web_addresses(server, monkeypatch):
    """Found by fuzzing: an infinite float made /api/ask answer 500 (JSON has no such number), and
    a dump's "javascript:" url reached API clients as the citation's url_or_path."""
    monkeypatch.setattr(rag, "ask_stream", _fake(url="javascript:alert(1)", decline_logprob=float("-inf")))
    reply = httpx.post(f"{server}/api/ask", json={"question": "Who?"})
    assert reply.status_code == 200 and reply.json()["decline_logprob"] is None
    chat = httpx.post(f"{server}/v1/chat/completions", json={"messages": [{"role": "user", "content": "Who?"}]})
    (citation,) = chat.json()["choices"][0]["message"]["citations"]
    assert citation["url_or_path"].endswith(ISTANBUL)
    monkeypatch.setattr(rag, "ask_stream", _fake(url="https://news.example.org/talks"))
    chat = httpx.post(f"{server}/v1/chat/completions", json={"messages": [{"role": "user", "content": "Who?"}]})
    assert chat.json()["choices"][0]["message"]["citations"][0]["url_or_path"] == "https://news.example.org/talks"


def _json(value) -> bytes:
    import json

    return json.dumps(value).encode()  # ensure_ascii: a lone surrogate travels as "\ud800"


def test_a_login_guards_the_api_and_the_web_app(settings, monkeypatch):
    import ui.app

    monkeypatch.setattr(ui.app, "FAILED_LOGIN_DELAY", 0.05)
    port = free_port()
    running = serve(settings, "127.0.0.1", port, auth=("reader", "s3:cret"), block=False)
    url = f"http://127.0.0.1:{port}"
    try:
        with pytest.raises(openai.AuthenticationError) as refused:
            openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0).models.list()
        assert refused.value.body["code"] == "invalid_api_key"
        signed_in = openai.OpenAI(base_url=f"{url}/v1", api_key="reader:s3:cret", max_retries=0)
        assert len(signed_in.models.list().data) == 2
        assert httpx.get(f"{url}/healthz", auth=("reader", "s3:cret")).status_code == 200
        for route in ("/healthz", "/api/articles", "/config", "/gradio_api/info"):
            assert httpx.get(url + route).status_code == 401, route
        # Nor can anyone add or remove articles (this index's folder is seeds/: nothing may reach it).
        assert httpx.put(f"{url}/api/articles/x.txt", content=b"Planted story.").status_code == 401
        assert httpx.delete(f"{url}/api/articles/{ISTANBUL}").status_code == 401
    finally:
        running.should_exit = True


def test_wrong_logins_waiting_their_turn_leave_a_signed_in_stream_going(tmp_path, monkeypatch):
    """Each wrong login waited for its turn in a thread of the pool (40 threads) that a stream
    needs for each of its pieces: 80 guesses at once stopped every signed-in answer until all
    but 40 had had their turn (40 s with the real delay)."""
    import ui.app

    monkeypatch.setattr(ui.app, "FAILED_LOGIN_DELAY", 0.2)  # 80 guesses take 16 s

    def ask_stream(question, **kwargs):  # 3 s of pieces
        for piece in ["Prisoners ", "were ", "swapped [1]."] * 20:
            time.sleep(0.05)
            yield piece
        yield Answer(question, "Prisoners were swapped [1].", [], False, Timings())

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    port = free_port()
    running = serve(rag.config.Settings(index_dir=tmp_path), "127.0.0.1", port, auth=("reader", "s3cret"),
                    block=False)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.stream("POST", f"{url}/v1/chat/completions", headers={"Authorization": "Bearer reader:s3cret"},
                          json={"stream": True, "messages": [{"role": "user", "content": "first"}]},
                          timeout=30) as stream:
            lines = stream.iter_lines()
            next(lines)
            guesses = [threading.Thread(target=httpx.get, args=(f"{url}/v1/models",),
                                        kwargs={"headers": {"Authorization": f"Bearer reader:{k}"}, "timeout": 30})
                       for k in range(80)]
            started = time.monotonic()
            for guess in guesses:
                guess.start()
            streamed = [line for line in lines if line]
            assert streamed[-1] == "data: [DONE]" and time.monotonic() - started < 8
        for guess in guesses:
            guess.join(30)
    finally:
        running.should_exit = True


def test_a_login_with_letters_beyond_ascii_matches_as_bearer_and_as_basic():
    from rag.server import _credentials

    as_sent = "reader:pässwörd".encode("utf-8")
    # Starlette gives a header's bytes read as Latin-1
    assert _credentials("Bearer " + as_sent.decode("latin-1")) == ("reader", "pässwörd")
    assert _credentials("Basic " + base64.b64encode(as_sent).decode("ascii")) == ("reader", "pässwörd")
    assert _credentials("Bearer reader:passwort") == ("reader", "passwort")


def test_a_network_bind_needs_a_login(settings, monkeypatch, capsys):
    with pytest.raises(BadInputError, match="refusing to serve on 0.0.0.0"):
        serve(settings, "0.0.0.0", free_port(), block=False)
    monkeypatch.delenv("RAG_UI_AUTH", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "without a login: give --auth USER:PASSWORD" in capsys.readouterr().err


@pytest.fixture
def library_server(tmp_path):
    """The server over an index of its own library (one seed), which the tests add to."""
    import shutil

    from rag.config import load_settings

    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(SEEDS / ISTANBUL, folder)
    settings = load_settings(index_dir=tmp_path / "index")
    rag.build_index(folder, settings=settings, progress=False)
    port = free_port()
    running = serve(settings, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}", folder
    running.should_exit = True


COD = "Norway and Iceland agree cod quota\n\nThe fisheries ministers signed the agreement in Tromsø on Monday.\n"


def test_a_script_adds_an_article_to_the_library_and_removes_it(library_server):
    """A feed fetcher elsewhere, a phone's share sheet or curl -T: the file is checked, saved under
    a safe name, indexed and found; then removed."""
    server, folder = library_server
    added = httpx.put(f"{server}/api/articles/Cod quota.txt", content=COD.encode("utf-8"))
    assert added.status_code == 201, added.text
    assert added.json()["name"] == "Cod_quota.txt" and added.json()["index"]["articles"] == 2
    assert (folder / "Cod_quota.txt").read_text(encoding="utf-8") == COD
    found = httpx.get(f"{server}/api/search", params={"q": "cod quota Tromsø"}).json()["data"]
    assert found[0]["source"] == "Cod_quota.txt"
    removed = httpx.delete(f"{server}/api/articles/Cod_quota.txt")
    assert removed.status_code == 200 and removed.json()["index"]["articles"] == 1
    assert not (folder / "Cod_quota.txt").exists()


@pytest.mark.parametrize("name, body, says", [
    ("notes.exe", b"MZ", "unsupported file type .exe"),
    ("empty.txt", b"", "empty.txt: empty file"),
    (ISTANBUL, (SEEDS / ISTANBUL).read_bytes(), "already"),
])
def test_a_file_the_library_refuses_is_a_400_with_the_reason_and_nothing_changes(library_server, name, body, says):
    server, folder = library_server
    before = sorted(p.name for p in folder.iterdir())
    refused = httpx.put(f"{server}/api/articles/{name}", content=body)
    assert refused.status_code == 400 and says in refused.json()["error"]["message"], refused.text
    assert sorted(p.name for p in folder.iterdir()) == before
    gone = httpx.delete(f"{server}/api/articles/nothing.txt")
    assert gone.status_code == 400 and gone.json()["error"]["param"] == "source"


def test_a_file_over_the_archive_limit_is_refused_before_it_is_all_sent(library_server):
    server, _ = library_server
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"PUT /api/articles/big.txt HTTP/1.1\r\nHost: {host}\r\nContent-Length: 600000000\r\n\r\n"
                     .encode())
        conn.sendall(b"x" * 100_000)
        reply = http.client.HTTPResponse(conn)
        reply.begin()
        error = json.loads(reply.read())["error"]
    assert reply.status == 413 and "the limit is 500,000,000 bytes" in error["message"]
