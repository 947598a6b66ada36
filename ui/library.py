"""The document library tab: the indexed articles, upload, remove and re-index.

The work is `rag.library`'s; this module shows its results and turns its errors into a message
in the tab. Every change syncs the index with the folder (only new or changed files are read and
embedded), which the chat picks up with its next question.
"""

from __future__ import annotations

import html
import re
from functools import partial

import gradio as gr

from rag import library
from rag.config import Settings
from rag.errors import RagError
from rag.loading import (ARTICLE_SUFFIXES, BOOK_SUFFIXES, DUMP_SUFFIXES, FEED_SUFFIXES, MAILBOX_SUFFIXES,
                         NOTES_SUFFIXES, SUPPORTED_SUFFIXES)
from rag.schema import IndexInfo, located
from ui.render import GIVES_ORDERS

COLUMNS = ["Title", "Date", "Outlet", "Chunks", "Added (UTC)", "File"]
# Beside the title of an article that gives orders to AI assistants (rag.injection).
SPEAKS_TO_ASSISTANT = f"⚠️ ({GIVES_ORDERS})"


def plain(text: str) -> str:
    """`text` for the Markdown status line, shown as typed: file names and messages come from
    outside (a file named `<img src=x>.txt` must not become an image, nor `*a*` italics). The
    characters escaped are those that make markup inside a line."""
    return re.sub(r"([\\`*_\[\]|~#])", r"\\\1", html.escape(text, quote=False))


# Rows the table shows at most: a page (rag.library.PAGE), the rest found by searching.
SHOWN = library.PAGE


def table(settings: Settings, text: str = "") -> tuple[list[list], list[str], str, str]:
    """(rows for the table: the first SHOWN articles that hold every word of `text`, each in the
    title, file, outlet, dates or text; their file names, for the remove list; how many there are; a note when there
    is no library)."""
    try:
        articles, total = library.find_articles(text, SHOWN, settings=settings)
    except RagError as exc:
        return [], [], "", f"⚠️ {plain(str(exc))}"
    rows = [[f"{a.title} {SPEAKS_TO_ASSISTANT}" if a.addresses_assistant else a.title, a.date() or "",
             a.outlet or "", a.chunks, (a.added or "").replace("T", " ")[:16], located(a.file, a.origin)]
            for a in articles]
    # Files are removed whole: a row of a dump is not cut out of the user's file.
    return rows, sorted({a.file for a in articles}), counted(len(articles), total, text), ""


def counted(shown: int, total: int, text: str) -> str:
    """The line over the table: how many articles there are, or match the search, and how many of them are shown."""
    line = library.how_many(total, plain(" ".join(text.split())))
    return line + (f"; the first {shown} by name are shown: search for the others" if shown < total else "")


def shown(text: str = "", *, settings: Settings) -> tuple:
    """(table, remove list, count) as they are now, for the search `text`."""
    return opened(text, settings=settings)[:3]


def opened(text: str = "", *, settings: Settings) -> tuple:
    """(table, remove list, count, status): what a page load shows, in one search."""
    rows, sources, count, problem = table(settings, text)
    return rows, gr.update(choices=sources, value=None), count, problem


def _done(what: str, info: IndexInfo) -> str:
    skipped = "".join(f"\n- skipped {plain(s)}" for s in info.skipped)
    return (f"✓ {plain(what)}. The index now holds {info.articles} articles in {info.chunks} passages "
            f"({info.embedded} read and embedded, {info.removed} removed, in {info.seconds:.1f} s); the chat uses it "
            f"from the next question.{skipped}")


# Each change returns its status line; the table is shown again after it (`shown`, with the search
# typed). The Progress parameters come before `settings`: Gradio only finds them among the
# positional parameters, and functools.partial makes `settings` and all after it keyword-only.
def add(files: list[str] | None, progress=gr.Progress(track_tqdm=True), *, settings: Settings) -> tuple:
    """Add uploaded files; returns (file box, emptied; status)."""
    if not files:
        return None, gr.update()
    progress(0, desc="Checking the files")
    try:
        info = library.add_articles(files, settings=settings, progress=True)
    except RagError as exc:
        return None, f"⚠️ Nothing was added: {plain(str(exc))}"
    names = ", ".join(library.safe_name(f) for f in files)
    return None, _done(f"Added {names}", info)


def remove(source: str | None, progress=gr.Progress(track_tqdm=True), *, settings: Settings) -> str:
    if not source:
        return "Nothing was removed: choose an article first."
    progress(0, desc=f"Removing {source}")
    try:
        info = library.remove_article(source, settings=settings, progress=True)
    except RagError as exc:
        return f"⚠️ Nothing was removed: {plain(str(exc))}"
    return _done(f"Removed {source}", info)


def reindex(progress=gr.Progress(track_tqdm=True), *, settings: Settings) -> str:
    progress(0, desc="Re-indexing")
    try:
        info = library.reindex(settings=settings, progress=True)
    except RagError as exc:
        return f"⚠️ Re-indexing failed: {plain(str(exc))}"
    return _done("Re-indexed the library folder", info)


def asking_about(source: str | None) -> tuple:
    """The chat, its questions kept to the file chosen (rag.Scope's `within`), its scope fields
    open to show it; nothing changes when no file is chosen."""
    if not source:
        return gr.skip(), gr.skip(), gr.skip()
    return source, gr.Accordion(open=True), gr.Tabs(selected="chat")


def _listed(suffixes: tuple[str, ...]) -> str:
    return "/".join(f"`{suffix}`" for suffix in suffixes)


def library_tab(settings: Settings, app: gr.Blocks, tab: gr.Tab,
                ask_about: tuple[gr.Textbox, gr.Accordion, gr.Tabs]) -> None:
    """The library's components and events; call inside `tab` of `app`. `ask_about`: the chat's
    field of the folder or file its questions are kept to, the accordion it is in, and the tabs,
    which "Ask about this file" fills, opens and switches to the chat."""
    mb, archive_mb = settings.max_file_bytes / 1_000_000, settings.max_archive_bytes / 1_000_000
    gr.Markdown(f"The articles the chat answers from. Add {_listed(ARTICLE_SUFFIXES)} files (one article each, "
                f"up to {mb:g} MB; a page saved with its images, `.mhtml` or `.webarchive`, an e-mail, `.eml`, or a "
                f"Word or RTF document, `.docx` or `.rtf`, up to {archive_mb:g} MB; a Nexis Uni, LexisNexis or "
                f"Factiva export, one article per story), {_listed(DUMP_SUFFIXES)} dumps, "
                f"{_listed(FEED_SUFFIXES)} feeds, {_listed(NOTES_SUFFIXES)} Evernote notebooks, "
                f"{_listed(MAILBOX_SUFFIXES)} mailboxes or {_listed(BOOK_SUFFIXES)} books (a paper's issue as calibre "
                f"fetches it; one article per row, entry, note, message or story, up to {archive_mb:g} MB); a file "
                "that cannot be read is refused and nothing changes.")
    search = gr.Textbox(label="Find articles", elem_id="library-search", max_lines=1,
                        placeholder="words of the title, text, file name, outlet, author or date")
    # Filled when a page loads (`app.load` below), not written into the page's layout: with a
    # login, the layout is served before it, and the file names must not be.
    count = gr.Markdown(elem_id="library-count", latex_delimiters=[])
    articles = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True,
                            elem_id="library-table", column_widths=["38%", "11%", "13%", "7%", "13%", "18%"])
    # No LaTeX either (Gradio typesets "$$...$$" by default): the status shows file names as typed.
    status = gr.Markdown(elem_id="library-status", latex_delimiters=[])
    with gr.Row():
        upload = gr.File(label="Add articles", file_count="multiple", file_types=list(SUPPORTED_SUFFIXES),
                         elem_id="library-upload", scale=2)
        with gr.Column(scale=1):
            # Its choices are filled when the tab opens; any name is accepted here because
            # rag.library refuses one the index does not list (choices fixed at start-up made
            # an article added later impossible to remove through the API).
            chosen = gr.Dropdown([], value=None, label="File", allow_custom_value=True,
                                 elem_id="library-remove-choice")
            ask_button = gr.Button("Ask about this file", elem_id="library-ask-about", variant="primary")
            remove_button = gr.Button("Remove file", variant="stop", elem_id="library-remove")
            reindex_button = gr.Button("Re-index the folder", elem_id="library-reindex",
                                       variant="secondary")

    # The progress bar shows over the table, which is what changes.
    writing = dict(concurrency_id="library", concurrency_limit=1, show_progress_on=articles)
    show = dict(fn=partial(shown, settings=settings), inputs=search, outputs=[articles, chosen, count],
                api_visibility="private")
    upload.upload(partial(add, settings=settings), upload, [upload, status], api_name="add_articles",
                  **writing).then(**show)
    # Deleting a file is the one step that cannot be undone here: ask first. Cancelling sends
    # None, as does an empty choice, and `remove` then changes nothing.
    remove_button.click(partial(remove, settings=settings), chosen, status,
                        js="(source) => source && confirm(`Remove ${source} from the library?`) ? source : null",
                        api_name="remove_article", **writing).then(**show)
    reindex_button.click(partial(reindex, settings=settings), None, status, api_name="reindex", **writing).then(**show)
    ask_button.click(asking_about, chosen, list(ask_about), api_visibility="private")
    # Searched as it is typed; only the last of the searches typed meanwhile runs.
    search.change(partial(shown, settings=settings), search, [articles, chosen, count], api_name="find_articles",
                  trigger_mode="always_last", show_progress="hidden")
    # One search fills the tab when a page loads, whichever tab is open (a value function for
    # each component searched three times).
    app.load(partial(opened, settings=settings), search, [articles, chosen, count, status], api_visibility="private")
    # Another session may have changed the library since this page was loaded.
    tab.select(**show)
