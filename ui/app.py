"""The browser app: a chat with cited answers, the document library and per-session settings.

ui/chat.py holds the chat and its sources panel, ui/library.py the library tab, ui/render.py
the HTML, ui/assets.py the CSS and the panel's script. This module lays them out and serves
them, refusing to expose the app to the network without a login unless told to.

Importing these modules loads no model: the core loads and caches them on the first question.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Awaitable, Callable

import gradio as gr

from rag.config import LOGIN_VARIABLE, Settings, load_settings
from rag.errors import BadInputError
from rag.models import offered_generators
from ui import assets
from ui.chat import chat_tab
from ui.library import library_tab

# System fonts: the default theme fetches Google Fonts, which an offline machine cannot reach.
THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
MODEL_LABELS = {"qwen2.5-coder-1.5b": "Qwen2.5-Coder 1.5B (better answers)",
                "qwen2.5-coder-0.5b": "Qwen2.5-Coder 0.5B (faster, weaker)"}
# A wrong login waits this long, and logins are checked one at a time: at most about one guess a
# second, from however many connections (Gradio itself does not limit them).
FAILED_LOGIN_DELAY = 1.0


def build_app(settings: Settings | None = None) -> gr.Blocks:
    # Resolved once here, so a bad rag.toml fails at startup rather than on the first question.
    settings = settings or load_settings()
    models = offered_generators(settings.generator)
    # analytics off: the app is offline, and Gradio would otherwise call home on start.
    # delete_cache: Gradio keeps a copy of every upload and downloaded conversation; those a day
    # old are removed hourly (each is read once, at once), and all of them at a restart.
    with gr.Blocks(title="Ask the news", analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        gr.Markdown("## Ask the news\nAnswers come only from the indexed articles; each cites the passages it "
                    "uses. Click a citation number to see the passage.")
        # The settings controls are made first, since the chat reads them, and shown in their tab.
        top_k = gr.Slider(1, max(10, settings.top_k), value=settings.top_k, step=1,
                          label="Passages shown to the model, at most",
                          info="More passages can answer broader questions; each adds about a second. Those "
                               "far less like the question than the best one are left out.",
                          render=False, elem_id="setting-top-k")
        generator = gr.Radio([(MODEL_LABELS.get(m, m), m) for m in models], value=settings.generator,
                             label="Model", info="Switching loads the other model (a few seconds, once).",
                             render=False, elem_id="setting-model")
        show_details = gr.Checkbox(True, label="Show retrieval details (timings, passages and their scores)",
                                   render=False, elem_id="setting-details")
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"):
                within, scope_fields = chat_tab(settings, top_k, generator, show_details)
            with gr.Tab("Library", id="library") as tab:
                library_tab(settings, app, tab, ask_about=(within, scope_fields, tabs))
            with gr.Tab("Settings", id="settings"):
                gr.Markdown("These apply to this browser session only. Their defaults come from the same settings "
                            "as the command line (`rag.toml`, `RAG_*` environment variables).")
                top_k.render()
                generator.render()
                show_details.render()
    return app


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """"user:password" -> ("user", "password"); the password may itself contain ":"."""
    if value is None:
        return None
    user, colon, password = value.partition(":")
    if not (colon and user and password):
        raise BadInputError("--auth must be USER:PASSWORD, both non-empty (e.g. --auth reader:s3cret)")
    return user, password


def login_check(user: str, password: str) -> Callable[[str, str], Awaitable[bool]]:
    """Gradio's `auth` as a coroutine function: compared in constant time, one attempt at a time, a
    failed one slowed down. A coroutine, so that a guess waits holding nothing: Gradio calls a
    plain function on its event loop, where one wrong login stopped the whole app for its delay,
    and `rag serve`'s guesses waited for their turn in threads of the pool its answers need."""
    turn = asyncio.Lock()

    async def check(given_user: str, given_password: str) -> bool:
        async with turn:
            right = (hmac.compare_digest(given_user.encode(), user.encode())
                     & hmac.compare_digest(given_password.encode(), password.encode()))
            if not right:
                await asyncio.sleep(FAILED_LOGIN_DELAY)
            return right

    return check


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def require_login(host: str, auth: tuple[str, str] | None, allow_no_auth: bool, *, share: bool = False) -> None:
    """BadInputError unless serving on `host` (or a share link) is safe as asked: anyone who can
    reach the port can read the articles, upload files and use the CPU, so a bind beyond this
    machine or a public share link needs a login, unless `allow_no_auth` says the network is
    trusted. `rag ui` and `rag serve` both apply it."""
    if (share or not is_loopback(host)) and auth is None and not allow_no_auth:
        where = "a public share link" if share else f"{host}, which other machines can reach,"
        raise BadInputError(
            f"refusing to serve on {where} without a login: give --auth USER:PASSWORD (or set {LOGIN_VARIABLE}), "
            "or --no-auth if the network is trusted"
        )


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860, *, share: bool = False,
          auth: tuple[str, str] | None = None, allow_no_auth: bool = False, block: bool = True) -> gr.Blocks:
    """Serve the app (until interrupted when `block`); `rag ui` and the tests call this.

    Anyone who can reach the port can read the articles, upload files and use the CPU, so a
    bind beyond this machine or a public share link needs a login (`auth`), unless
    `allow_no_auth` says the network is trusted.
    """
    require_login(host, auth, allow_no_auth, share=share)
    settings = settings or load_settings()
    app = build_app(settings)
    app.launch(server_name=host, server_port=port, share=share, auth=login_check(*auth) if auth else None,
               prevent_thread_lock=not block,
               quiet=not block, theme=THEME, css=assets.CSS,
               max_file_size=max(settings.max_file_bytes, settings.max_archive_bytes))
    return app
