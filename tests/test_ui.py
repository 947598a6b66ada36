"""The web app: its handlers with a fake core, its serving rules, then the real app served on a
local port and driven through gradio_client, as a browser would drive it (test_browser.py drives
a real browser)."""

import asyncio
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

import rag
from conftest import ENDING_EARLY, ISTANBUL, core_ending_with, free_port, serve_copy_of_seeds
from rag.cli import main
from rag.config import Settings
from rag.errors import BadInputError
from rag.schema import Answer, Article, Checking, Chunk, Citation, Correcting, Hit, Retrieved, Timings
from ui import chat, render
from ui.app import parse_auth, serve

QUOTE = "They met in Istanbul.\nThey swapped 1,000 prisoners. Talks go on."


def _citation(**changes) -> Citation:
    # Offsets as in a .txt file whose text[100:164] is QUOTE; the second sentence is the support.
    fields = dict(n=1, source="a.txt", title="Talks", chunk_id="a-0", quote=QUOTE, start=100, end=100 + len(QUOTE),
                  highlights=[(122, 151)], outlet="Wire", date="2025-05-16")
    return Citation(**{**fields, **changes})


def _fake_ask_stream(calls, text="Prisoners were swapped [1].", citation=None):
    citation = citation or _citation()

    def ask_stream(question, *, history=None, settings=None, **_):
        calls.append({"history": list(history), "top_k": settings.top_k, "generator": settings.generator})
        hit = Hit(Chunk("a-0", "a.txt", "Talks", QUOTE, 100, 164, 0), 0.71)
        yield Retrieved([hit], 0.05)
        yield "Prisoners "
        yield "were swapped [1]."
        yield Answer(question, text, [citation], False, Timings(0.05, 1.5, 2.25), hits=[hit],
                     prompt_tokens=700, completion_tokens=9)

    return ask_stream


def _ask(question, exchanges=(), settings=Settings(), top_k=4, generator="qwen2.5-coder-1.5b", details=True):
    return list(chat.respond(question, list(exchanges), top_k, generator, details, settings=settings))


def test_answer_streams_with_chips_then_opens_its_sources_and_follow_up_gets_plain_turns(monkeypatch):
    calls = []
    monkeypatch.setattr(rag, "ask_stream", _fake_ask_stream(calls))

    steps = _ask("What were the prisoners swapped for?")
    shown = [chat_[-1]["content"] for _, chat_, _, _ in steps]
    assert shown[0] == '<span class="pending">Searching the articles…</span>'
    assert shown[1] == '<span class="pending">Reading the passage found (shown beside)…</span>'
    # Evidence first: the passage found, its sentence closest to the question marked, before any word.
    evidence = steps[1][3]
    assert "Passages found for “<bdi>What were the prisoners swapped for?</bdi>”" in evidence
    assert ('<blockquote class="passage">They met in Istanbul.\n<mark>They swapped 1,000 prisoners.</mark> '
            "Talks go on.</blockquote>") in evidence
    assert shown[2] == 'Prisoners <span class="cursor">▍</span>'
    assert shown[3] == ('Prisoners were swapped <button type="button" class="cite-chip ref-0-1">1</button>.'
                        '<span class="cursor">▍</span>')
    _, chat_, exchanges, panel = steps[-1]
    assert chat_[0] == {"role": "user", "content": "What were the prisoners swapped for?"}
    assert chat_[1]["content"].startswith(
        'Prisoners were swapped <button type="button" class="cite-chip ref-0-1 claim-0" title="Talks">1</button>.'
        '<div class="cite-footer"><button type="button" class="cite-source ref-0-1">')
    # The panel holds the passage, its supporting sentence marked (as the first claim's, the
    # chip's: claim-0), and the retrieval details.
    assert ('<blockquote class="passage">They met in Istanbul.\n<mark class="claim-0">They swapped 1,000 prisoners.'
            "</mark> Talks go on.</blockquote>") in panel
    assert 'data-source="a.txt" data-start="100" data-end="164" data-highlights="122-151"' in panel
    # The article's outlet and latest date come with the citation: no second read of the index.
    assert '<div class="source-meta"><bdi>Wire</bdi> · <bdi>2025-05-16</bdi> · <bdi>a.txt</bdi></div>' in panel
    assert "Retrieval 0.05 s · first token 1.50 s · total 2.25 s · 700 prompt tokens, 9 answer tokens" in panel
    assert '<span class="score" title="cosine similarity">0.710</span>' in panel and "cited as [1]" in panel

    _ask("And then?", exchanges)
    assert calls[1]["history"] == [
        {"role": "user", "content": "What were the prisoners swapped for?"},
        {"role": "assistant", "content": "Prisoners were swapped [1]."},
    ]


def test_highlight_falls_back_to_the_whole_passage_when_it_is_missing():
    assert render._passage(QUOTE, 100, 100 + len(QUOTE), []) == (
        "<mark>They met in Istanbul.\nThey swapped 1,000 prisoners. Talks go on.</mark>")
    # A quote that is not the slice start..end (an index built when HTML offsets pointed into the
    # raw page): marked whole.
    assert render._passage("They met.", 10, 400, [(10, 400)]) == "<mark>They met.</mark>"


def test_each_sentence_a_claim_rests_on_is_marked_in_the_passage_with_its_claims():
    # Three claims cite the passage: the first and third rest on its last sentence, the second
    # on its first. Each sentence is marked once, in the passage's order, classed by its claims
    # (the j-th chip [1] of the answer marks claim-j's); one inside another is marked once.
    marked = render._passage(QUOTE, 100, 100 + len(QUOTE), [(152, 164), (100, 121), (152, 164)], by_claim=True)
    assert marked == ('<mark class="claim-1">They met in Istanbul.</mark>\nThey swapped 1,000 prisoners. '
                      '<mark class="claim-0 claim-2">Talks go on.</mark>')
    marked = render._passage(QUOTE, 100, 100 + len(QUOTE), [(152, 164), (100, 121), (105, 110)])
    assert marked == ("<mark>They met in Istanbul.</mark>\nThey swapped 1,000 prisoners. <mark>Talks go on.</mark>")
    chips = render._with_chips(0, "Met [1]. Swapped [2]. Went on [1].", {1: _citation(), 2: _citation(n=2)})
    assert re.findall(r'class="([^"]+)"', chips) == ["cite-chip ref-0-1 claim-0", "cite-chip ref-0-2 claim-0",
                                                     "cite-chip ref-0-1 claim-1"]
    assert render.highlights_of(render.highlights_attribute([(100, 121), (152, 164)])) == [(100, 121), (152, 164)]
    with pytest.raises(ValueError):
        render.highlights_of("100-121-130")


def test_article_and_model_text_are_escaped(monkeypatch):
    hostile = "<img src=x onerror=alert(1)>"
    citation = _citation(title=f"T{hostile}", quote=f"Q{hostile}", highlights=[])
    monkeypatch.setattr(rag, "ask_stream", _fake_ask_stream([], text=f"Swapped {hostile} [1].", citation=citation))

    _, chat_, _, panel = _ask(f"Why {hostile}?")[-1]
    for html in (chat_[0]["content"], chat_[1]["content"], panel):
        assert "<img" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_settings_tab_choices_apply_to_the_question(monkeypatch):
    calls = []
    monkeypatch.setattr(rag, "ask_stream", _fake_ask_stream(calls))
    _ask("What happened?", top_k=7, generator="qwen2.5-coder-0.5b", details=False)
    assert calls == [{"history": [], "top_k": 7, "generator": "qwen2.5-coder-0.5b"}]
    _, chat_, _, panel = _ask("What happened?", details=False)[-1]
    assert "show-details" not in chat_[-1]["content"] and "Retrieval details" not in panel


def test_abstention_is_shown_as_such(monkeypatch):
    def ask_stream(question, **_):
        yield "The articles do not say."
        yield Answer(question, "The articles do not say.", [], True, Timings(0.01, None, 0.01))

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, chat_, exchanges, panel = _ask("Capital of Australia?")[-1]
    assert chat_[-1]["content"].startswith('<div class="abstained"><strong>The articles do not say.</strong>')
    assert "⚠️" not in chat_[-1]["content"]
    assert "No sources: the indexed articles do not answer this question." in panel
    assert "first token no model call" in panel
    assert chat.history(exchanges)[-1] == {"role": "assistant", "content": "The articles do not say."}


def test_core_error_is_a_chat_message_and_stays_out_of_the_history(monkeypatch):
    def ask_stream(question, **_):
        raise rag.IndexUnusableError("no index at /x: run `rag index seeds`")
        yield

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, chat_, exchanges, _ = _ask("What happened?")[-1]
    assert chat_[-1] == {"role": "assistant",
                         "content": "⚠️ The articles&#x27; index cannot be used. no index at /x: run `rag index seeds`"}
    assert chat.history(exchanges) == []


def test_a_bug_in_the_core_is_a_message_too_not_a_stuck_chat(monkeypatch):
    def ask_stream(question, **_):
        yield "Prisoners "
        raise RuntimeError("boom")

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, chat_, exchanges, _ = _ask("What happened?")[-1]
    assert chat_[-1]["content"] == "⚠️ Internal error (RuntimeError: boom); the server&#x27;s log has the details."
    assert chat.history(exchanges) == []


def test_an_answer_being_checked_says_so_until_the_checked_answer_replaces_it(monkeypatch):
    """A second opinion takes seconds after the last word and may withdraw the answer: the chat
    says it is being checked instead of leaving a cursor blinking at a finished sentence."""
    hit = Hit(Chunk("a-0", "a.txt", "Talks", QUOTE, 100, 164, 0), 0.71)

    def ask_stream(question, **_):
        yield Retrieved([hit], 0.05)
        yield "Bob Terry bought it [1]."
        yield Checking(samples=3)
        yield Answer(question, "The articles do not say.", [], True, Timings(0.05, 1.5, 9.0), hits=[hit])

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    shown = [chat_[-1]["content"] for _, chat_, _, _ in _ask("Who bought the guitar?")]
    assert shown[-2].startswith('Bob Terry bought it <button type="button" class="cite-chip ref-0-1">1</button>.'
                                '<br><span class="pending">Checking this answer: the model answers again, up to 3 '
                                "times; if it says something else, the answer is withdrawn…</span>")
    assert "cursor" not in shown[-2]
    assert shown[-1].startswith('<div class="abstained"><strong>The articles do not say.</strong>')


def test_a_declined_yes_no_question_asked_once_more_says_so_until_its_answer_replaces_it(monkeypatch):
    """README step 12: the decline streamed, then seconds of one more reply that may replace it."""
    hit = Hit(Chunk("a-0", "a.txt", "Talks", QUOTE, 100, 164, 0), 0.71)

    def ask_stream(question, **_):
        yield Retrieved([hit], 0.05)
        yield "The articles do not say."
        yield Correcting()
        yield Answer(question, "No, in fact, he was 91 [1].", [], False, Timings(0.05, 1.5, 4.0), hits=[hit])

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    shown = [chat_[-1]["content"] for _, chat_, _, _ in _ask("Was he 85 when he died?")]
    assert shown[-2] == ('The articles do not say.<br><span class="pending">The articles may say otherwise than '
                         "the question: the model is asked once more what they say…</span>")
    assert "No, in fact, he was 91" in shown[-1]


@ENDING_EARLY
def test_a_core_that_ends_without_an_answer_is_a_message_and_the_chat_goes_on(items, monkeypatch):
    """Such a core left "Searching the articles…" spinning in the chat for good (the words
    streamed so far vanished), at every later turn too."""
    monkeypatch.setattr(rag, "ask_stream", core_ending_with(items))
    _, chat_, exchanges, _ = _ask("Who swapped prisoners?")[-1]
    broke_off = ("⚠️ The answer broke off before it was checked against the articles, so it is not shown. "
                 "Retry to ask again; the server&#x27;s log has the details.")
    assert chat_[-1] == {"role": "assistant", "content": broke_off}  # unchecked words are not shown as the answer
    assert chat.history(exchanges) == []
    # What was typed is kept: undo puts the question back in the textbox, retry asks it again.
    assert chat.undo(exchanges, True)[0] == "Who swapped prisoners?"
    monkeypatch.setattr(rag, "ask_stream", _fake_ask_stream(calls := []))
    _, chat_, retried, _ = list(chat.retry(exchanges, 4, "qwen2.5-coder-1.5b", True, settings=Settings()))[-1]
    assert retried[-1].answer.text == "Prisoners were swapped [1]." and calls[-1]["history"] == []
    # The next question is answered, with the failed one in the chat and out of the history.
    _, chat_, exchanges, _ = _ask("And then?", exchanges)[-1]
    assert [m["content"] for m in chat_[:2]] == ["Who swapped prisoners?", broke_off]
    assert chat_[-1]["content"].startswith("Prisoners were swapped") and calls[-1]["history"] == []


def test_undo_retry_and_clear(monkeypatch):
    calls = []
    monkeypatch.setattr(rag, "ask_stream", _fake_ask_stream(calls))
    _, _, exchanges, _ = _ask("First?")[-1]
    _, _, exchanges, _ = _ask("Second?", exchanges)[-1]

    question, chat_, kept, panel = chat.undo(exchanges, True)
    assert question == "Second?" and [e.question for e in kept] == ["First?"] and len(chat_) == 2
    assert 'data-answer="1"' not in panel and 'data-answer="0"' in panel

    _, chat_, retried, _ = list(chat.retry(exchanges, 4, "qwen2.5-coder-1.5b", True, settings=Settings()))[-1]
    assert [e.question for e in retried] == ["First?", "Second?"] and len(chat_) == 4
    assert calls[-1]["history"][0] == {"role": "user", "content": "First?"}  # only the kept exchange

    assert chat.clear(True)[:3] == ("", [], [])


def test_whole_article_view_shows_only_listed_articles_with_the_passage_marked(settings, monkeypatch):
    text = "Title\n\nThey met. They swapped prisoners. Then they left."
    article = Article("a.txt", "a.txt", text, [(0, len(text))], "Title")
    monkeypatch.setattr(rag.library, "read_article", lambda source, **_: article)
    view = chat.article_html({"source": "a.txt", "start": 7, "end": 56, "highlights": "17-40"}, Settings())
    assert ('Title\n\n<span class="passage-range">They met. <mark>They swapped prisoners.</mark> Then they left.'
            "</span>") in view
    # Offsets come from the browser: an absurd one is a message, not an error (found by fuzzing).
    view = chat.article_html({"source": "a.txt", "start": 7, "end": 1e999, "highlights": "17-40"}, Settings())
    assert "Cannot show the article" in view

    monkeypatch.undo()
    # A made-up name is refused by the library (only indexed names are read), as a message.
    view = chat.article_html({"source": "../../etc/passwd", "start": 0, "end": 1, "highlights": ""}, settings)
    assert "Cannot show the article" in view and "not in the library" in view


def test_whole_article_view_names_the_page_of_a_pdf_passage():
    text = "Page one words.\n\nPage two words. More of them.\n\n"
    two, more = text.index("Page two"), text.index("More")
    article = Article("a.pdf", "a.pdf", text, [(0, 15), (two, more + 13)], "Title", pages=[0, two])
    view = render.article_view(article, two, more + 13, [(more, more + 13)])
    assert "<bdi>a.pdf</bdi> · page 2 of 2" in view and "<mark>More of them.</mark>" in view
    assert "page" not in render.article_view(Article("a.txt", "a.txt", text, [(0, 15)], "Title"), 0, 15, [(0, 15)])


def test_text_from_articles_set_beside_other_text_is_isolated_from_it(monkeypatch):
    """A right-to-left override (U+202E) in an outlet showed the date and file after it reversed
    ("61-50-5202"); each fact, the question and a file name before its page number is its own
    <bdi>, where such a character ends."""
    rlo = "\u202e"
    citation = _citation(outlet=f"Wire{rlo}", title=f"{rlo}Talks")
    monkeypatch.setattr(rag, "ask_stream", _fake_ask_stream([], citation=citation))
    *_, panel = _ask(f"Why{rlo}?")[-1]
    assert f"<bdi>Wire{rlo}</bdi> · <bdi>2025-05-16</bdi> · <bdi>a.txt</bdi>" in panel
    assert f"Sources for “<bdi>Why{rlo}?</bdi>”" in panel
    assert "<strong><bdi>Talks</bdi></strong> <code><bdi>a.txt</bdi></code>" in panel  # the details
    article = Article(f"a{rlo}.pdf", f"a{rlo}.pdf", "Page one.", [(0, 9)], "Title", pages=[0])
    assert f"<bdi>a{rlo}.pdf</bdi> · page 1 of 1" in render.article_view(article, 0, 9, [(0, 9)])


@pytest.mark.parametrize("host, share, refused", [
    ("127.0.0.1", False, False),
    ("localhost", False, False),
    ("::1", False, False),
    ("0.0.0.0", False, True),
    ("192.168.1.5", False, True),
    ("myhost.example", False, True),
    ("127.0.0.1", True, True),
])
def test_a_network_bind_or_share_link_needs_a_login(host, share, refused, monkeypatch, tmp_path):
    launched, settings = [], Settings(index_dir=tmp_path)
    monkeypatch.setattr("gradio.Blocks.launch", lambda self, **kwargs: launched.append(kwargs))
    if refused:
        with pytest.raises(BadInputError, match="without a login: give --auth USER:PASSWORD"):
            serve(settings, host, share=share)
        serve(settings, host, share=share, auth=("u", "p"))
        serve(settings, host, share=share, allow_no_auth=True)
        assert asyncio.run(launched[0]["auth"]("u", "p")) is True and launched[1]["auth"] is None
    else:
        serve(settings, host)
        assert launched[0]["server_name"] == host and launched[0]["share"] is False


def test_parse_auth():
    assert parse_auth("reader:pa:ss") == ("reader", "pa:ss")
    assert parse_auth(None) is None
    for bad in ("reader", ":pass", "reader:"):
        with pytest.raises(BadInputError, match="USER:PASSWORD"):
            parse_auth(bad)


def test_cli_refuses_an_open_network_bind(capsys, monkeypatch):
    monkeypatch.delenv("RAG_UI_AUTH", raising=False)
    assert main(["ui", "--host", "0.0.0.0"]) == 2
    assert "refusing to serve on 0.0.0.0" in capsys.readouterr().err


def test_wrong_logins_are_slowed_and_checked_one_at_a_time(monkeypatch):
    import ui.app

    monkeypatch.setattr(ui.app, "FAILED_LOGIN_DELAY", 0.2)
    check = ui.app.login_check("reader", "s3cret")

    async def timed(*guesses):
        started = time.monotonic()
        results = await asyncio.gather(*(check("reader", guess) for guess in guesses))
        return results, time.monotonic() - started

    assert asyncio.run(timed("s3cret"))[0] == [True]
    assert asyncio.run(timed("s3cret"))[1] < 0.2
    results, took = asyncio.run(timed("a", "b", "c"))
    assert results == [False, False, False] and took >= 0.6  # three wrong guesses in a row, not at once


def test_wrong_logins_being_checked_leave_the_app_answering(tmp_path, monkeypatch):
    """Gradio calls a plain login function on its event loop: while a wrong login waited out its
    delay (and the others waited for their turn), the whole app stood still, every session's
    answer with it, so anyone who could reach the login page could stop the app."""
    import threading

    import httpx

    import ui.app

    # Told by order, not by a time limit: the page must come back while the first wrong login is
    # still waiting out its delay. A stalled app answers it only after that login (1.5 s), and
    # the page takes about 0.07 s here; a limit of 0.4 s failed once under a loaded CI machine.
    monkeypatch.setattr(ui.app, "FAILED_LOGIN_DELAY", 1.5)
    app = serve(Settings(index_dir=tmp_path), "127.0.0.1", free_port(), auth=("reader", "s3cret"), block=False)
    finished = []

    def guess(password):
        httpx.post(app.local_url + "login", data={"username": "reader", "password": password}, timeout=10)
        finished.append("login")

    try:
        guesses = [threading.Thread(target=guess, args=(password,)) for password in "ab"]
        for thread in guesses:
            thread.start()
        time.sleep(0.2)  # the first guess is waiting out its delay, the other its turn
        assert httpx.get(app.local_url, timeout=10).status_code == 200
        finished.append("page")
        for thread in guesses:
            thread.join(10)
        assert finished == ["page", "login", "login"]
    finally:
        app.close()


def test_the_login_page_shows_no_article_names(settings):
    app = serve(settings, "127.0.0.1", free_port(), auth=("reader", "s3cret"), block=False)
    try:
        page = urllib.request.urlopen(app.local_url).read().decode("utf-8", "replace")
        assert page and ISTANBUL not in page and "Istanbul talks" not in page
    finally:
        app.close()


def test_status_messages_show_file_names_as_typed():
    from ui.library import plain

    assert plain("skipped <img src=x>.txt: *bold* [link](x) a_b") == (
        "skipped &lt;img src=x&gt;.txt: \\*bold\\* \\[link\\](x) a\\_b")


def test_a_login_protects_every_route_including_the_article_view(tmp_path):
    app = serve(Settings(index_dir=tmp_path), "127.0.0.1", free_port(), auth=("reader", "s3cret"), block=False)
    try:
        for route in ("config", "gradio_api/info"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(app.local_url + route)
            assert refused.value.code == 401
        request = urllib.request.Request(app.local_url + "gradio_api/component_server", method="POST",
                                         data=b'{"data": {"source": "x"}, "component_id": 1, "session_hash": "s", '
                                              b'"fn_name": "view_article"}',
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 401
    finally:
        app.close()


@pytest.fixture(scope="module")
def seed_app(settings):
    app = serve(settings, "127.0.0.1", free_port(), block=False)
    yield app
    app.close()


@pytest.fixture
def client(seed_app):
    """A new browser session: its own conversation."""
    return Client(seed_app.local_url, verbose=False)


def _text(message: dict) -> str:
    return "".join(part["text"] for part in message["content"] if part["type"] == "text")


@pytest.mark.slow
def test_app_answers_with_the_prisoner_exchange_and_cites_its_article(client):
    _, chat_, panel = client.predict("What came out of the May 2025 Istanbul talks?", api_name="/ask")
    assert [m["role"] for m in chat_] == ["user", "assistant"]
    answer = _text(chat_[1])
    assert "1,000" in answer or "prisoner" in answer.lower(), answer
    assert 'class="cite-chip ref-0-1 claim-0"' in answer  # its first claim citing source 1
    # the cited file, last in its meta line; the sentence that first claim rests on, marked
    assert f"<bdi>{ISTANBUL}</bdi></div>" in panel and '<mark class="claim-0' in panel


def test_app_shows_a_message_for_an_empty_question(client):
    _, chat_, _ = client.predict("   ", api_name="/ask")
    assert [m["role"] for m in chat_] == ["assistant"]
    assert _text(chat_[0]).startswith("⚠️") and "empty" in _text(chat_[0])


@pytest.fixture(scope="module")
def library_app(tmp_path_factory):
    """An app over its own copy of the seeds, so uploads never touch seeds/."""
    app = serve_copy_of_seeds(tmp_path_factory.mktemp("library-app"))
    yield app
    app.close()


@pytest.mark.slow
def test_sessions_keep_their_own_conversations_and_an_upload_does_not_disturb_an_answer(library_app, tmp_path):
    """Two sessions: A asks while B uploads. The answer and the upload run at the same time (the
    queue's "answer" and "library" lanes are separate); A's answer is whole because the sync
    commits a new generation in one transaction and A holds the index it loaded;
    A's next question sees B's article with no restart."""
    reader, writer = Client(library_app.local_url, verbose=False), Client(library_app.local_url, verbose=False)
    article = tmp_path / "cod.txt"
    article.write_text("Norway and Iceland agree Arctic cod quota in Tromsø\n\nThe fisheries ministers of Norway and "
                       "Iceland signed an agreement in Tromsø on March 3, 2026, setting the joint Arctic cod quota "
                       "for 2026 at 450,000 tonnes.\n", encoding="utf-8")

    asking = reader.submit("What came out of the May 2025 Istanbul talks?", api_name="/ask")
    while asking.status().code.name not in ("PROCESSING", "ITERATING", "FINISHED"):
        time.sleep(0.05)
    assert not asking.done(), "the answer came before the upload started: the test shows nothing"
    *_, status = writer.predict([handle_file(str(article))], api_name="/add_articles")
    assert status.startswith("✓ Added cod.txt. The index now holds 6 articles")

    _, chat_, panel = asking.result()
    assert "prisoner" in _text(chat_[-1]).lower() and ISTANBUL in panel
    _, chat_, panel = reader.predict("What cod quota did Norway and Iceland agree in Tromsø?", api_name="/ask")
    assert len(chat_) == 4 and "cod.txt" in panel  # A's own conversation, now over the new index
    # B never asked anything: undoing in its session finds an empty conversation.
    assert writer.predict(api_name="/undo")[1] == []
    # An article added after the app started can be removed through the API too.
    status = writer.predict("cod.txt", api_name="/remove_article")  # the status line: the table is shown after
    assert status.startswith("✓ Removed cod.txt. The index now holds 5 articles"), status


def test_sentences_left_out_of_an_answer_are_listed_with_its_sources(monkeypatch):
    def ask_stream(question, **_):
        yield "Prisoners were swapped [1]. The <b>moon</b> agreed."
        yield Answer(question, "Prisoners were swapped [1].", [_citation()], False, Timings(0.05, 1.5, 2.25),
                     unsupported=["The <b>moon</b> agreed."])

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, chat_, _, panel = _ask("What was agreed?")[-1]
    assert "moon" not in chat_[-1]["content"]
    assert "Left out of the answer: 1 sentence no passage supports" in panel
    assert "<li>The &lt;b&gt;moon&lt;/b&gt; agreed.</li>" in panel


def test_a_source_that_gives_orders_to_assistants_is_marked_under_sources(monkeypatch):
    """Such an article is cited only when no other fits the question; its news may be planted."""
    def ask_stream(question, **_):
        yield "Prisoners were swapped [1]."
        yield Answer(question, "Prisoners were swapped [1].", [_citation(addresses_assistant=True)],
                     False, Timings(0.05, 1.5, 2.25))

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, _, _, panel = _ask("What was agreed?")[-1]
    assert "⚠️ This article gives orders to AI assistants" in panel and "may be planted too" in panel
    assert "gives orders" not in render.sources_panel([], False)


def test_an_answer_its_second_opinion_withdrew_says_so_and_lists_it(monkeypatch):
    def ask_stream(question, **_):
        yield "Prisoners were swapped [1]."
        yield Answer(question, "The articles do not say.", [], True, Timings(0.05, 1.5, 9.0),
                     withdrawn=["Prisoners were <b>swapped</b>."], samples_disagreeing=2, samples_drawn=2,
                     declined_by="second_opinion")

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, chat_, _, panel = _ask("What was agreed?")[-1]
    assert "asked again, the model said something else in 2 of 2 replies, so it was withdrawn" in chat_[-1]["content"]
    assert "No indexed article answers this" not in chat_[-1]["content"]  # one may: the answer was withdrawn
    assert "Withdrawn: asked again, the model said something else in 2 of 2 replies" in panel
    assert "No sources: the answer was withdrawn." in panel
    assert "<li>Prisoners were &lt;b&gt;swapped&lt;/b&gt;.</li>" in panel and "no passage supports" not in panel


def test_a_declined_question_says_what_declined_it(monkeypatch):
    def ask_stream(question, **_):
        yield "The articles do not say."
        yield Answer(question, "The articles do not say.", [], True, Timings(0.05, 1.5, 1.6), declined_by="model")

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, chat_, _, _ = _ask("Who won the 1966 World Cup?")[-1]
    assert ("The model read the passages found and said they do not answer it. Rephrase the question, or add an "
            "article in the Library tab.") in chat_[-1]["content"]


def test_an_answer_whose_yes_the_model_doubted_says_why_it_was_withdrawn(monkeypatch):
    def ask_stream(question, **_):
        yield "Yes, Blackburn accepted the offer [1]."
        yield Answer(question, "The articles do not say.", [], True, Timings(0.05, 1.5, 3.0),
                     withdrawn=["Yes, Blackburn accepted the offer."], yes_margin=2.5,
                     declined_by="doubted_yes")

    monkeypatch.setattr(rag, "ask_stream", ask_stream)
    _, chat_, _, panel = _ask("Did Blackburn accept the offer?")[-1]
    assert "only 12 times as likely as &quot;No&quot;" in chat_[-1]["content"]
    assert "asked again" not in chat_[-1]["content"]
    assert "Withdrawn: the model was not sure enough of its &quot;Yes&quot;: it found it only 12 times" in panel


def test_the_chat_and_the_library_status_typeset_no_latex(tmp_path):
    """Gradio typesets "$$...$$" in chat messages and Markdown by default: an article's
    "$$\\rule{99em}{99em}$$" copied into an answer, or a file name in the status line, was drawn as
    a box of that size instead of shown as written."""
    from ui.app import build_app

    app = build_app(Settings(index_dir=tmp_path))
    shown = {b.elem_id: b for b in app.blocks.values() if getattr(b, "elem_id", None) in ("chat", "library-status")}
    assert len(shown) == 2 and all(b.latex_delimiters == [] for b in shown.values())


def test_the_library_tab_names_every_file_type_it_accepts(tmp_path):
    from rag.loading import SUPPORTED_SUFFIXES
    from ui.app import build_app

    app = build_app(Settings(index_dir=tmp_path))
    told = " ".join(getattr(b, "value", "") or "" for b in app.blocks.values() if type(b).__name__ == "Markdown")
    assert all(f"`{suffix}`" in told for suffix in SUPPORTED_SUFFIXES)


def test_a_conversation_is_kept_as_markdown_with_its_sources_as_references():
    """The chat's answers are HTML and cannot be copied: "Download conversation" gives each
    question, its answer with its [n] markers and each source as a reference, its sentences
    quoted; an article's or the model's markup stays text in the file."""
    from ui.chat import Exchange
    from ui.render import conversation_markdown

    linked = "They swapped prisoners [1] at [the page](http://127.0.0.1:9/x) ![b](http://127.0.0.1:9/b.png) [1]."
    exchanges = [
        Exchange("What came of the talks?", Answer("What came of the talks?", linked, [_citation(url="https://n.example/t")],
                                                      False, Timings())),
        Exchange("And in *June*?", None, error="The index is being rebuilt: ask again."),
        Exchange("Who paid?", Answer("Who paid?", "The articles do not say.", [], True, Timings()),
                 scope="dated 2024 or later"),
    ]
    assert conversation_markdown(exchanges) == (
        "# Questions asked of the news library\n\n"
        "## What came of the talks?\n\n"
        "They swapped prisoners [1] at \\[the page\\]\\(http://127.0.0.1:9/x\\) "
        "\\!\\[b\\]\\(http://127.0.0.1:9/b.png\\) [1].\n\n"
        "[1] Talks \\(Wire, 2025-05-16; a.txt, chars 100-164; https://n.example/t\\)\n"
        "    > “They swapped 1,000 prisoners.”\n\n"
        "## And in \\*June\\*?\n\n"
        "*The index is being rebuilt: ask again.*\n\n"
        "## Who paid? \\(among the articles dated 2024 or later\\)\n\n"
        "The articles do not say.\n")


def test_downloaded_conversations_do_not_pile_up_in_the_temp_folder():
    """Each answer writes the conversation to a file for the download button, which Gradio copies
    into its cache at once: the files go in one folder of the process, a file a minute old is
    removed at the next answer, and the folder when the process ends (a folder per answer was
    left in the temp folder before, for good)."""
    from ui.chat import Exchange, transcript

    def exchange(question):
        return Exchange(question, Answer(question, "The articles do not say.", [], True, Timings()))

    first = Path(transcript([exchange("Who paid?")])["value"])
    second = Path(transcript([exchange("Who paid?"), exchange("And why?")])["value"])
    assert first.name == second.name == "conversation.md"  # what the browser saves it as
    assert first.parent.parent == second.parent.parent == Path(chat._transcripts().name)
    assert "## And why?" in second.read_text(encoding="utf-8")
    assert transcript([exchange("Who paid?")])["value"] == str(first)  # the same conversation, one file
    old = time.time() - 2 * chat._TRANSCRIPT_KEPT_S
    os.utime(first.parent, (old, old))
    transcript([exchange("Something else?")])
    assert not first.parent.exists() and second.exists()
    assert transcript([])["value"] is None
