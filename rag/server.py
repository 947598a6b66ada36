"""`rag serve`: the core over HTTP, in the OpenAI chat format, with the web app on the same port.

Routes (all behind the login when one is set):
  POST /v1/chat/completions   OpenAI's chat format, `stream` true (server-sent events) or false;
                              "scope"? (the OpenAI clients' extra_body) as for /api/ask
  GET  /v1/models             one model id per generator the UI offers
  GET  /healthz               the index loads and the default generator is installed
  POST /api/ask               {"question", "history"?, "model"?, "top_k"?, "scope"?} -> asdict(Answer);
                              scope: {"since"?, "until"?, "within"?, "outlet"?} (rag.Scope)
  GET  /api/articles          ?q=WORDS&limit=N&since=&until=&within=&outlet= -> the indexed articles a
                              search finds, and how many
  GET  /api/search            ?q=QUESTION&limit=N&since=&until=&within=&outlet= -> the passages that
                              best match it, without the model
  PUT  /api/articles/NAME     the body a file to add to the library as NAME (rag.library.add_articles)
  DELETE /api/articles/SOURCE a file to remove from the library (rag.library.remove_article)
  /                           the Gradio app (ui.app), mounted: one process, one model in memory

An answer's text keeps its `[n]` markers; its citations and whether it abstained travel beside
it (`message.citations`, `message.abstained`; in a stream, on the last chunk's delta). A stream
shows the model's words as it writes them; the checked text (rag.answer) comes on the last chunk
as `checked_content`, and when its words or citation numbers differ from what was streamed, a
last content piece says so, so that a client knowing nothing of these fields still shows it.

API questions take turns, in arrival order, for the whole answer: on 2 cores two answers at
once would each run at half speed and evict each other's cached prompt. The mounted web app
queues its own answers one at a time; an API answer and a web answer meet only at the model,
whose calls take turns too (rag.generation).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import math
import re
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from dataclasses import asdict
from pathlib import Path

import anyio

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

import rag
from rag.config import MAX_TOP_K, Settings, load_settings
from rag.errors import BadInputError, IncompleteAnswerError, IndexUnusableError, ModelMissingError, RagError
from rag.generation import Turns
from rag.loading import web_address
from rag.models import offered_generators
from rag.pipeline import require_answer
from rag.schema import Answer, Checking, Citation, Correcting, Streamed
from rag.scope import Scope, as_scope
from rag.text import CITATION

log = logging.getLogger(__name__)

ROLES = ("system", "developer", "user", "assistant")
# A question is at most max_question_chars; a request this big is not a conversation.
MAX_BODY_BYTES = 1_000_000
# Threads that wait for a turn; requests beyond these wait for a thread, holding none.
MAX_QUEUED = 1000
# Articles one /api/articles request lists at most: a page, as the web app's Library shows 200.
MAX_ARTICLES_LISTED = 1000
# Whole answers, one at a time in this process (the mounted UI queues its own, one at a time).
_ANSWERING = Turns()


class RequestError(BadInputError):
    """A request the API refuses, with the OpenAI error object's fields."""

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None):
        super().__init__(message)
        self.param, self.status, self.code = param, status, code


@dataclasses.dataclass
class Chat:
    """What a chat request asks, once checked."""

    question: str
    history: list[dict]  # earlier user and assistant turns, as rag.ask takes them
    model: str
    stream: bool = False
    include_usage: bool = False
    scope: Scope | None = None


async def read_body(request: Request) -> bytes:
    """The request's body, refused (413) as soon as it is known to be over MAX_BODY_BYTES: by its
    declared length before any of it is read, else once what has arrived passes the limit. Read
    whole first, a 50 MB body took that memory, and the client had to send it all, to be refused."""
    return b"".join([piece async for piece in _body_pieces(request, MAX_BODY_BYTES)])


async def save_body(request: Request, path: Path, limit: int) -> None:
    """The request's body written to `path` as it arrives (a file added to the library may be as
    large as max_archive_bytes, not held in memory), refused (413) over `limit` as read_body's is."""
    with open(path, "wb") as out:
        async for piece in _body_pieces(request, limit):
            out.write(piece)


async def _body_pieces(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body's pieces as they arrive; RequestError (413) when its declared length is over
    `limit`, before any is read, or once what has arrived is."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(f"{int(declared):,} bytes", limit)
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise _too_large(f"over {limit:,} bytes", limit)
        yield piece


def _too_large(size: str, limit: int) -> RequestError:
    return RequestError(f"the request is {size}; the limit is {limit:,} bytes", status=413,
                        code="request_too_large")


def parse_body(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError("the request body is not valid UTF-8: send JSON encoded as UTF-8") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep (was a 500)
        raise RequestError(f"the request body is not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise RequestError(f"the request body must be a JSON object, not {type(data).__name__}")
    return data


def parse_chat(data: dict, settings: Settings) -> Chat:
    """Check a chat request; a RequestError names the field (`param`) that is wrong."""
    turns = parse_messages(data.get("messages"), "messages")
    if turns[-1]["role"] != "user":
        raise RequestError(f"the last message must be the user's question, not {turns[-1]['role']!r}",
                           f"messages[{len(turns) - 1}].role")
    # OpenAI's schema lets a client send null for a field it leaves at its default.
    stream = False if data.get("stream") is None else data["stream"]
    options = data.get("stream_options") or {}
    if not isinstance(stream, bool):
        raise RequestError(f"stream must be true or false, not {stream!r}", "stream")
    if not isinstance(options, dict):
        raise RequestError("stream_options must be an object", "stream_options")
    include_usage = options.get("include_usage") or False
    if not isinstance(include_usage, bool):
        raise RequestError(f"stream_options.include_usage must be true or false, not {include_usage!r}",
                           "stream_options.include_usage")
    if data.get("n") not in (None, 1):
        raise RequestError("n must be 1: there is one checked answer per question", "n")
    return Chat(turns[-1]["content"], conversation(turns[:-1]), _model(data.get("model"), settings), stream,
                include_usage, parse_scope(data.get("scope")))


def parse_scope(value) -> Scope | None:
    """A request's "scope": an object with any of since, until, within and outlet (rag.Scope)."""
    try:
        return as_scope(value)
    except BadInputError as exc:
        raise RequestError(str(exc), "scope") from None


def parse_messages(messages, param: str) -> list[dict]:
    """A non-empty list of {role, content} with known roles and text content."""
    if not isinstance(messages, list) or not messages:
        raise RequestError(f"{param} must be a non-empty list of {{role, content}} objects", param)
    turns = []
    for k, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestError(f"{param}[{k}] must be an object with role and content", f"{param}[{k}]")
        if message.get("role") not in ROLES:
            raise RequestError(f"{param}[{k}].role is {message.get('role')!r}; valid roles: {', '.join(ROLES)}",
                               f"{param}[{k}].role")
        turns.append({"role": message["role"], "content": _text(message.get("content"), f"{param}[{k}].content")})
    return turns


def conversation(turns: list[dict]) -> list[dict]:
    """The history rag.ask takes. The server's instructions are fixed (articles are data, answers
    cite them): a client's system or developer message does not reach the prompt."""
    return [turn for turn in turns if turn["role"] in ("user", "assistant")]


def _text(content, param: str) -> str:
    """A message's text: a string, or OpenAI's list of text parts."""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        content = "".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise RequestError(f"{param} must be text (a string or text parts), not {type(content).__name__}", param)
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. "\ud800" in the JSON
        raise RequestError(f"{param} is not valid text: it holds lone surrogates (bytes that were not UTF-8)",
                           param) from None
    if not content.strip():
        raise RequestError(f"{param} is empty", param)
    return content


def _model(model, settings: Settings) -> str:
    if model is None:
        return settings.generator
    if not isinstance(model, str):  # a malformed request, not an unknown model (was a 404)
        raise RequestError(f"model must be a model's name, not {type(model).__name__}", "model")
    offered = offered_generators(settings.generator)
    if model not in offered:
        raise RequestError(f"the model {model!r} does not exist; available: {', '.join(offered)}",
                           "model", status=404, code="model_not_found")
    return model


def answers(question: str, history: list[dict], settings: Settings, scope: Scope | None = None
            ) -> Iterator[Streamed]:
    """rag.ask_stream in this process's queue: the turn is held until the answer is complete or
    the caller drops the iterator (a client that went away)."""
    with _ANSWERING.turn():
        yield from require_answer(rag.ask_stream(question, history=history, settings=settings, scope=scope),
                                  question)


def _finite(value):
    """`value` with every infinite or NaN float as None: JSON has no such number, and one (a
    decline log-probability of -inf) made /api/ask answer 500 (found by fuzzing)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def citations(cited: list[Citation], settings: Settings) -> list[dict]:
    """Citations (an answer's, or the passages a search found) in the API's shape, each with its
    article's web address (from a dump, feed, page or e-mail) or else its file's path in the
    library folder."""
    from rag.library import articles_folder

    try:
        folder = articles_folder(settings=settings)
    except RagError:  # an index from before the library, or its folder moved: no path to give
        folder = None
    return [{"n": c.n, "source": c.source, "title": c.title,
             "url_or_path": web_address(c.url) or (str(folder / (c.file or c.source)) if folder else None),
             "quote": c.quote, "start": c.start, "end": c.end, "highlights": [list(span) for span in c.highlights],
             "score": c.score, "date": c.date, "outlet": c.outlet, "page": c.page}
            for c in cited]


def completion(chat: Chat, answer: Answer, settings: Settings) -> dict:
    """The non-streamed `chat.completion` object."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": chat.model,
        "choices": [{"index": 0, "logprobs": None, "finish_reason": _finish_reason(answer),
                     "message": {"role": "assistant", "content": answer.text, "refusal": None,
                                 "citations": citations(answer.citations, settings), "abstained": answer.abstained}}],
        "usage": _usage(answer),
    }


def events(chat: Chat, items: Iterator[Streamed], settings: Settings) -> Iterator[str]:
    """Server-sent events as OpenAI streams them: `chat.completion.chunk`s, then `[DONE]`."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": chat.model}

    def chunk(delta: dict, finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return _event({**base, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    streamed = ""
    try:
        for item in items:
            if isinstance(item, Answer):
                if _words(item.text) != _words(streamed):
                    yield chunk({"content": f"\n\nChecked against the articles, the answer is: {item.text}"})
                yield chunk({"citations": citations(item.citations, settings), "abstained": item.abstained,
                             "checked_content": item.text}, _finish_reason(item))
                if chat.include_usage:
                    yield _event({**base, "choices": [], "usage": _usage(item)})
            elif isinstance(item, str):
                streamed += item
                yield chunk({"content": item})
            elif isinstance(item, Checking):
                # OpenAI's format has no such event; an SSE comment, which clients skip, says why
                # nothing comes for seconds (a second opinion: up to ~15 s here) and keeps an
                # idle-timing proxy from closing the stream.
                yield f": checking the answer: the model answers again, up to {item.samples} times\n\n"
            elif isinstance(item, Correcting):  # the same: one more reply, seconds on a slow CPU
                yield ": the articles may say otherwise than the question: the model answers once more\n\n"
    except Exception as exc:  # headers are sent: the error goes as an event, as OpenAI sends one
        if not isinstance(exc, RagError):
            log.error("answering %r failed", chat.question, exc_info=exc)
        yield _event(error_object(exc)[1])
        return
    yield "data: [DONE]\n\n"


def error_object(exc: Exception) -> tuple[int, dict]:
    """(HTTP status, OpenAI's error object) for an exception from checking or answering."""
    if isinstance(exc, RequestError):
        status, kind, param, code = exc.status, "invalid_request_error", exc.param, exc.code
    elif isinstance(exc, BadInputError):  # the core's checks of the question (length, script...)
        status, kind, param, code = 400, "invalid_request_error", "messages", None
    elif isinstance(exc, (IndexUnusableError, ModelMissingError)):
        status, kind, param = 503, "server_error", None
        code = "index_unusable" if isinstance(exc, IndexUnusableError) else "model_missing"
    elif isinstance(exc, IncompleteAnswerError):
        status, kind, param, code = 500, "server_error", None, "answer_incomplete"
    else:
        return 500, {"error": {"message": f"internal error ({type(exc).__name__}: {exc}); the server's log has "
                                          "the details", "type": "server_error", "param": None, "code": None}}
    return status, {"error": {"message": str(exc), "type": kind, "param": param, "code": code}}


def _event(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _words(text: str) -> list[str]:
    """Words and citation markers: what a reader would notice changed, not spacing or where a
    marker sits around the full stop."""
    return [m.group() for m in re.finditer(rf"{CITATION.pattern}|\w+", text)]  # findall: the group, "" for a word


def _finish_reason(answer: Answer) -> str:
    return "length" if answer.cut_off else "stop"


def _usage(answer: Answer) -> dict:
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens}


def create_app(settings: Settings | None = None, *,
               login: Callable[[str, str], Awaitable[bool]] | None = None) -> FastAPI:
    """The FastAPI app; `await login(user, password)` guards every route when given."""
    settings = settings or load_settings()

    async def signed_in(request: Request) -> None:
        if login is not None and not await login(*_credentials(request.headers.get("authorization", ""))):
            raise RequestError("a login is needed: send Authorization: Bearer USER:PASSWORD (the OpenAI "
                               "clients' api_key) or HTTP Basic", status=401, code="invalid_api_key")

    app = FastAPI(title="Ask the news", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(signed_in)])

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect) -> Response:
        return Response(status_code=499)  # nobody reads it; not an error worth a traceback in the log

    @app.exception_handler(RagError)
    @app.exception_handler(Exception)  # Starlette logs these with their traceback too
    async def refused(request: Request, exc: Exception) -> JSONResponse:
        status, error = error_object(exc)
        headers = {"WWW-Authenticate": 'Basic realm="rag"'} if status == 401 else None
        return JSONResponse(error, status_code=status, headers=headers)

    # Questions wait for their turn each in a thread of these, not of the default pool (40
    # threads), which the answer being made needs for each of its pieces: waiting there, 40
    # questions queued behind a stream left it no thread to go on with, and the server hung.
    waiting = anyio.CapacityLimiter(MAX_QUEUED)

    async def started(items: Iterator) -> Iterator:
        """`items` with the first one made, after this request's turn and retrieval, so that a
        question the core refuses gets its status code rather than a stream that fails."""
        return _chain(await anyio.to_thread.run_sync(next, items, limiter=waiting), items)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        chat = parse_chat(parse_body(await read_body(request)), settings)
        run = dataclasses.replace(settings, generator=chat.model)
        rest = await started(answers(chat.question, chat.history, run, chat.scope))
        if chat.stream:
            return _Stream(_relay(events(chat, rest, run)), media_type="text/event-stream",
                           headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return completion(chat, await _answer(rest, request), run)

    @app.post("/api/ask")
    async def api_ask(request: Request):
        data = parse_body(await read_body(request))
        question = _text(data.get("question"), "question")
        history = data.get("history")
        history = conversation(parse_messages(history, "history")) if history not in (None, []) else []
        top_k = data.get("top_k")
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool)
                                  or not 1 <= top_k <= MAX_TOP_K):
            raise RequestError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, not {top_k!r}", "top_k")
        run = dataclasses.replace(settings, generator=_model(data.get("model"), settings),
                                  top_k=top_k or settings.top_k)
        asked = answers(question, history, run, parse_scope(data.get("scope")))
        return _finite(asdict(await _answer(await started(asked), request)))

    # Without these the mounted web app answered a GET here with its own 404: a client that
    # sends the wrong method is told which one to use.
    @app.get("/v1/chat/completions")
    @app.get("/api/ask")
    def post_only():
        status, error = error_object(RequestError("this endpoint takes POST", status=405, code="method_not_allowed"))
        return JSONResponse(error, status_code=status, headers={"Allow": "POST"})

    @app.get("/v1/models")
    def list_models():
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "rag-news"}
                                           for m in offered_generators(settings.generator)]}

    @app.get("/api/articles")
    def articles_found(q: str = "", limit: str = "50", since: str | None = None, until: str | None = None,
                       within: str | None = None, outlet: str | None = None):
        """The articles that hold every word of `q`, each in the title, file, outlet, dates or text
        (rag.library.find_articles): the first `limit` by name, at most MAX_ARTICLES_LISTED; in
        a scope, when any of since, until, within and outlet is given (rag.Scope)."""
        from rag.library import find_articles

        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_ARTICLES_LISTED):
            raise RequestError(f"limit must be a whole number from 1 to {MAX_ARTICLES_LISTED}", param="limit")
        scope = parse_scope({"since": since, "until": until, "within": within, "outlet": outlet})
        found, total = find_articles(q, int(limit), settings=settings, scope=scope)
        return {"object": "list", "total": total, "data": [dataclasses.asdict(a) for a in found]}

    @app.get("/api/search")
    def passages_found(q: str = "", limit: str = "10", since: str | None = None, until: str | None = None,
                       within: str | None = None, outlet: str | None = None):
        """The passages that best match `q`, best first, without the model (rag.search): at most
        `limit`, up to MAX_TOP_K, each as an answer's citation is given; in a scope, when any of
        since, until, within and outlet is given (rag.Scope)."""
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_TOP_K):
            raise RequestError(f"limit must be a whole number from 1 to {MAX_TOP_K}", param="limit")
        if not q.strip():
            raise RequestError("q is empty: give a question or words to search for", param="q")
        scope = parse_scope({"since": since, "until": until, "within": within, "outlet": outlet})
        found = rag.search(q, limit=int(limit), settings=settings, scope=scope)
        return {"object": "list", "data": citations(found, settings)}

    @app.put("/api/articles/{name}", status_code=201)
    async def article_added(name: str, request: Request):
        """The body a file (an article, a dump, a feed, an export: any type the library reads)
        added to the library as `name` and indexed: rag.library.add_articles, all checks
        included (type, size, readable, not already indexed); 400 with the reason, nothing
        changed, when it is refused. What a script, a feed fetcher elsewhere or a phone's share
        sheet sends: `curl -T story.html http://127.0.0.1:8000/api/articles/story.html`."""
        from rag.library import add_articles, safe_name

        with tempfile.TemporaryDirectory(prefix="rag-put-") as folder:
            path = Path(folder) / "body"
            await save_body(request, path, settings.max_archive_bytes)
            try:
                saved = safe_name(name)
                info = await run_in_threadpool(add_articles, [path], names=[name], settings=settings)
            except BadInputError as exc:
                raise RequestError(str(exc), param="name") from None
        return {"name": saved, "index": _finite(asdict(info))}

    @app.delete("/api/articles/{source:path}")
    def article_removed(source: str):
        """The library's file `source` (as the Library and /api/articles name it: "tech/001.txt",
        a dump or feed by its file) removed, and the index synced: rag.library.remove_article."""
        from rag.library import remove_article

        try:
            info = remove_article(source, settings=settings)
        except BadInputError as exc:
            raise RequestError(str(exc), param="source") from None
        return {"removed": source, "index": _finite(asdict(info))}

    @app.get("/healthz")
    def healthz():
        from rag.index import load_index
        from rag.models import generator_path

        try:  # what a question needs: an index that loads (its checksums hold) and the model file
            index = load_index(settings.index_dir, settings.embedding_model)
            generator_path(settings.generator, settings.models_dir)
            articles = len(index.articles)  # counted, not read: a check may come every few seconds
        except RagError as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return {"status": "ok", "articles": articles, "generator": settings.generator}

    _mount_ui(app, settings, login)
    return app


def _mount_ui(app, settings: Settings, login) -> None:
    import gradio as gr

    from ui import assets
    from ui.app import THEME, build_app

    gr.mount_gradio_app(app, build_app(settings), path="/", auth=login, theme=THEME, css=assets.CSS,
                        max_file_size=max(settings.max_file_bytes, settings.max_archive_bytes))


def _credentials(header: str) -> tuple[str, str]:
    """(user, password) from an Authorization header, Bearer or Basic; empty when it has none."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode("utf-8")
        except ValueError:
            value = ""
    elif scheme.lower() == "bearer":
        # Header values arrive read as Latin-1 (HTTP's old rule); clients send UTF-8, so a
        # password such as "pässword" never matched (found by fuzzing).
        try:
            value = value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass
    else:
        value = ""
    user, _, password = value.strip().partition(":")
    return user, password


class _Stream(StreamingResponse):
    """A stream whose answer ends as soon as the client has gone: Starlette leaves a body it
    stopped sending to the garbage collector, which can take any time (a test saw the turn held
    for the whole of a long answer), and the next question waits for that turn."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


async def _relay(chunks: Iterator[str]) -> AsyncIterator[str]:
    """`chunks`, each made in the thread pool (the model blocks), closed when the relay is."""
    try:
        # A cancelled wait for a chunk waits for its thread (anyio's default), so `chunks` is
        # never running when it is closed.
        while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
            yield chunk
    finally:
        chunks.close()  # quick: it only unwinds the answer's generators, freeing the turn


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


async def _answer(items: Iterator, request: Request) -> Answer:
    """The last item, the answer. A client that has gone is noticed between items and the answer
    stops there, freeing the turn: run to its end, it kept the model for nobody (a client's timeout
    and retry made two answers to one question, the second waiting for the first)."""
    async with aclosing(_relay(items)) as relayed:
        async for item in relayed:
            if await request.is_disconnected():
                raise ClientDisconnect
    return item


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 8000, *,
          auth: tuple[str, str] | None = None, allow_no_auth: bool = False, block: bool = True):
    """Serve the API and the web app (until interrupted when `block`; else in a thread, returning
    the uvicorn.Server, whose `should_exit = True` stops it). `rag ui`'s rule: a bind beyond this
    machine needs a login unless `allow_no_auth` says the network is trusted."""
    import uvicorn

    from ui.app import login_check, require_login

    require_login(host, auth, allow_no_auth)
    # One check for the app and the API: guesses at either wait their turn behind each other.
    app = create_app(settings, login=login_check(*auth) if auth else None)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info" if block else "warning"))
    if block:
        server.run()
        return server
    thread = threading.Thread(target=server.run, daemon=True, name=f"rag-serve-{port}")
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server on {host}:{port} did not start (see the log)")
        time.sleep(0.05)
    return server
