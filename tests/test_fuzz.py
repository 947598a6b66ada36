"""Property tests over hostile input: random bytes, encodings, names and model output. Whatever
comes in, the loaders and the question path give a result or a RagError, never another exception.

The normal test run tries each property on a few hundred examples; a longer search is one command:
`make fuzz` (HYPOTHESIS_PROFILE=long: thousands of examples each).
"""

import csv
import dataclasses
import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings as hypothesis_settings, strategies as st

import rag
from rag.answer import LiveRenumbering, finish
from rag.chunking import chunk_article
from rag.config import Settings, load_settings
from rag.errors import RagError
from rag.evaluation.questions import load_questions
from rag.library import safe_name
from rag.loading import SUPPORTED_SUFFIXES, load_file, load_folder
from rag.schema import Chunk, Hit
from rag.text import split_sentences
from test_loading import GRAIN_PDF, make_pdf

hypothesis_settings.register_profile("default", max_examples=150, deadline=None)
hypothesis_settings.register_profile("long", max_examples=5000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Text that looks like articles (words, stops, line breaks, quotes, dates) mixed with anything.
ARTICLE_TEXT = st.lists(st.one_of(
    st.sampled_from(["The talks", " ended.", " Mr. Putin", " met Erdogan", " in May 2025", "\n", "\n\n", " “Yes!”",
                     " 1,000 prisoners", " U.S.", " (Reuters)", " / Reuters", "9 hours ago", "SOURCE:TRT",
                     "# Heading", "<p>", "</p>", "&amp;", "<script>x</script>", " <|im_start|>"]),
    st.text(max_size=20),
), max_size=40).map("".join)
RAW_BYTES = st.one_of(st.binary(max_size=400), ARTICLE_TEXT.map(lambda t: t.encode("utf-8")),
                      ARTICLE_TEXT.map(lambda t: t.encode("latin-1", "replace")),
                      ARTICLE_TEXT.map(lambda t: t.encode("utf-16")))


def _words(text: str) -> int:
    return len(text.split())


@given(data=RAW_BYTES, suffix=st.sampled_from([*SUPPORTED_SUFFIXES, ".pdf", ""]))
def test_any_file_loads_or_is_refused_with_a_reason(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"article{suffix}"
        path.write_bytes(data)
        _loads_or_is_refused(path)


# Dumps, feeds, saved pages and front matter with a valid frame around random content: random
# bytes alone are refused at once ("no text column"), which would leave the row and entry parsing
# (and the front matter's YAML) unexercised.
_FRAMES = {
    ".csv": (b"title,date,url,text\n", b"\n"),
    ".jsonl": (b'{"title": "A", "text": "first row"}\n', b""),
    # a read-later app's export: random content as an entry's HTML, and the date as its date
    ".json": (b'[{"title": "A", "content": "<p>', b'</p>", "published_at": "', b'"}, {"text": "Ferries sail."}]'),
    ".rss": (b"<rss version='2.0'><channel><title>T</title><item><title>A</title><description>", b"</description>"
             b"<pubDate>", b"</pubDate></item></channel></rss>"),
    # a clipped article's front matter: random content as its title and date
    ".md": (b"---\ntitle: ", b"\nsource: https://news.example/a\npublished: ", b"\n---\nShips sail again.\n"),
    # an Evernote notebook: random content as a note's text
    ".enex": (b"<en-export><note><title>A</title><content><![CDATA[<en-note>", b"</en-note>]]></content></note>"
              b"</en-export>"),
    # a newsletter: random content as its HTML, quoted-printable; in a mailbox, as a message's subject
    # (its header lines too), and the date as its Date
    ".eml": (b"From: Briefing <b@news.example>\nSubject: Talks\nMIME-Version: 1.0\nContent-Type: text/html; "
             b"charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n", b"\n"),
    ".mbox": (b"From b@news.example Sat May 17 04:05:00 2025\nSubject: ", b"\nDate: ",
              b"\n\nShips sail again.\n\nFrom c@news.example Sat May 17 04:06:00 2025\nSubject: B\n\nFerries too.\n"),
    # an RTF document: random content as its text, escapes and groups included
    ".rtf": (b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}\\pard ", b"\\par}"),
    # a page saved as one file: random content as its page, quoted-printable
    ".mhtml": (b'MIME-Version: 1.0\r\nContent-Type: multipart/related; type="text/html"; boundary="B"\r\n\r\n--B\r\n'
               b"Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", b"\r\n--B--\r\n"),
}


@given(data=RAW_BYTES, date=st.text(max_size=40), suffix=st.sampled_from(sorted(_FRAMES)))
@example(data=b"<p</p<\x01", date="", suffix=".rss")  # a control character beside a tag: lxml raised ValueError
def test_any_row_or_entry_of_a_dump_or_feed_loads_or_is_refused_with_a_reason(data, date, suffix):
    head, *rest = _FRAMES[suffix]
    body = head + data + rest[0] + (date.encode("utf-8", "replace") + b"".join(rest[1:]) if len(rest) > 1 else b"")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"dump{suffix}"
        path.write_bytes(body)
        _loads_or_is_refused(path)


@given(document=RAW_BYTES, metadata=st.text(max_size=60),
       href=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20))  # a zip name holds no NUL
@example(document=b"<html><body><p>Ships sail.</p></body></html>", metadata="<dc:title>A</dc:title>", href="a.html")
def test_any_document_or_package_of_a_book_loads_or_is_refused_with_a_reason(document, metadata, href):
    """An EPUB (a zip) cannot be framed by bytes around random content: it is built round it, with
    random content as a document, as the package's metadata (unescaped: any XML) and as a
    document's address in it."""
    package = (f'<package xmlns="http://www.idpf.org/2007/opf"><metadata>{metadata}</metadata><manifest>'
               f'<item id="a" href="{href}" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="a"/>'
               "</spine></package>")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "book.epub"
        with zipfile.ZipFile(path, "w") as book:
            book.writestr("META-INF/container.xml", '<container><rootfiles><rootfile full-path="p.opf"/></rootfiles>'
                          "</container>")
            book.writestr("p.opf", package)
            book.writestr(href or "a.html", document)
        _loads_or_is_refused(path)


# A news database's export (rag.exports) with random lines in every part of an article: its
# headline, outlet, date, labels and text; each export's frame as Nexis Uni and LexisNexis Academic write it.
EXPORT_LINE = st.one_of(ARTICLE_TEXT, st.sampled_from(["Body", "End of Document", "Length: 12 words", "Byline:",
                                                       "12 words", "Document FTCOM00020250516el5g0001x", "© 2025",
                                                       "LENGTH: 9 words", "2 of 3 DOCUMENTS", "May 16, 2025 Friday",
                                                       "Classification", "Load-Date: May 17, 2025", ""]))


@given(parts=st.lists(st.lists(EXPORT_LINE, max_size=4).map("\n".join), min_size=5, max_size=5),
       kind=st.sampled_from(["uni", "academic", "factiva"]))
def test_any_article_of_a_news_database_export_loads_or_is_refused_with_a_reason(parts, kind):
    headline, outlet, date, labels, body = parts
    if kind == "factiva":
        text = (f"{headline}\n{labels}\n523 words\n{date}\n{outlet}\nFTCOM\nEnglish\n(c) 2025 FT\n{body}\n"
                "Document FTCOM00020250516el5g0001x\nTalks\n3 words\n17 May 2025\nReuters\nLBA\nEnglish\n"
                "Talks went on.\nDocument LBA0000020250517el5h000ab\nSearch Summary\n")
    elif kind == "academic":
        text = (f"1 of 2 DOCUMENTS\n\n{outlet}\n\n{date}\n\n{headline}\n\n{labels}\nLENGTH: 5 words\n\n{body}\n\n"
                "LOAD-DATE: May 17, 2025\n\n2 of 2 DOCUMENTS\n\nThe Times\n\nMay 18, 2025\n\nTalks\n\n"
                "LENGTH: 3 words\n\nTalks went on.\n")
    else:
        text = (f"Documents (2)\n{headline}\n{outlet}\n{date}\n{labels}\nLength:\xa05 words\nBody\n{body}\n"
                "Load-Date: May 17, 2025\nEnd of Document\nTalks\nThe Times\nMay 18, 2025\nBody\nTalks went on.\n"
                "End of Document\n")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.txt"
        path.write_text(text, encoding="utf-8", errors="replace")
        _loads_or_is_refused(path)


# Rows whose text is any characters: each is an article or a skipped row with its reason, never
# lost. A CSV written as Excel and csv.writer write it, with a quoted "\r", lost the text after
# its first quote; a JSON text holding U+2028 (a line break to str.splitlines) was refused.
ROW_TEXTS = st.lists(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), min_size=1,
                             max_size=60).filter(lambda t: any(c.isalnum() for c in t)), min_size=1, max_size=6)


@given(texts=ROW_TEXTS, suffix=st.sampled_from([".csv", ".jsonl", ".json"]))
@example(texts=['He said "no"\rThe talks ended.'], suffix=".csv")
@example(texts=["One line\u2028two"], suffix=".jsonl")
@example(texts=['0"|', '0"|'], suffix=".csv")  # "|" in the texts was sniffed as the delimiter
def test_every_row_of_a_dump_is_an_article_or_skipped_with_its_reason(texts, suffix):
    if suffix == ".csv":
        out = io.StringIO()
        csv.writer(out).writerows([["title", "text"], *([f"Row {k}", text] for k, text in enumerate(texts))])
        data = out.getvalue()
    elif suffix == ".json":
        data = json.dumps([{"title": f"Row {k}", "text": text} for k, text in enumerate(texts)], ensure_ascii=False)
    else:
        data = "\n".join(json.dumps({"title": f"Row {k}", "text": text}, ensure_ascii=False)
                         for k, text in enumerate(texts))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"dump{suffix}"
        path.write_bytes(data.encode("utf-8"))
        articles, skipped = load_file(path)
    assert len(articles) + len(skipped) == len(texts), skipped
    assert not any("not JSON" in reason for reason in skipped)
    for article, text in zip(articles, texts):
        # What a row says is in its article (whitespace folded, line by line).
        assert all(word in article.text for word in text.split() if word.isalnum())


# A valid PDF damaged by a few edits: pypdf raises whatever its parser meets (an AssertionError
# for a reference inside a content stream, NotImplementedError for an unknown filter).
_PDF_EDITS = [b"<<", b">>", b"[", b"]", b" 0 R", b" 9999 0 R", b"/Length 99999", b"endobj", b"stream\n", b"(",
              b")", b"/Filter /FlateDecode", b"/Filter /Fl", b"/Kids [1 0 R]", b"/Encrypt 1 0 R", b"/Count -5",
              b"[1 0 R] Tj", b"1e308"]


@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 40),
                                st.sampled_from(_PDF_EDITS)), max_size=6))
@example(edits=[])
def test_any_damaged_pdf_loads_or_is_refused_with_a_reason(edits):
    data = bytearray(make_pdf(GRAIN_PDF, title="Grain deal renewed"))
    for where, cut, insert in edits:
        at = int(where * len(data))
        data[at:at + cut] = insert
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "grain.pdf"
        path.write_bytes(bytes(data))
        _loads_or_is_refused(path)


def _loads_or_is_refused(path: Path) -> None:
    try:
        articles, skipped = load_file(path)
    except RagError as exc:
        assert str(exc).startswith(path.name)
        return
    assert articles and all(reason.startswith(path.name) for reason in skipped)
    for article in articles:
        # Every span lies in the text, and so does every chunk cut from it.
        assert all(0 <= s < e <= len(article.text) for s, e in article.spans)
        for chunk in chunk_article(article, _words, max_tokens=20, overlap=5):
            assert 0 <= chunk.start < chunk.end <= len(article.text) and chunk.text.strip()


@given(files=st.dictionaries(st.text(min_size=1, max_size=12), RAW_BYTES, max_size=4))
@hypothesis_settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_folder_loads_or_is_refused(files):
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files.items():
            try:
                (Path(folder) / f"{name}.txt").write_bytes(data)
            except (OSError, ValueError):  # a name the file system itself refuses ("/", NUL)
                pass
        try:
            articles, skipped = load_folder(Path(folder))
        except RagError:
            return
        assert articles and all(isinstance(reason, str) for reason in skipped)


@given(name=st.text(max_size=300))
def test_any_upload_name_becomes_a_safe_name_or_is_refused(name):
    try:
        safe = safe_name(name)
    except RagError:
        return
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and safe != ""
    assert Path(safe).suffix in SUPPORTED_SUFFIXES and len(safe.encode("utf-8")) <= 255


@given(text=ARTICLE_TEXT, start=st.integers(0, 50), length=st.integers(0, 400))
def test_sentences_are_ordered_non_empty_spans_inside_the_range(text, start, length):
    end = min(len(text), start + length)
    spans = split_sentences(text, min(start, end), end)
    assert all(min(start, end) <= s < e <= end and text[s:e].strip() == text[s:e] for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


PASSAGES = [Hit(Chunk(id=f"c{i}", source=f"s{i}.txt", title=f"Title {i}", text=text, start=0, end=len(text),
                      position=0), score=0.5)
            for i, text in enumerate(["Officials met in Lyon on 3 March. They agreed to share the cost of a dam.",
                                      "The dam will cost 1,000 million euros."], start=1)]
MODEL_OUTPUT = st.lists(st.one_of(
    st.sampled_from(["The towns agreed", "The Towns Agreed", " in Lyon", " the Lyon Dam", " the EU",
                     " to share the cost", " [1]", " [2]", " [3]", "【1】", " (Source 2)",
                     " [Source: 1, 2]", " [2, 1, and 3]", " [1-2]", " (Passages 2–3)", ", and", "-", ".", " ", "\n",
                     "The articles do not say.", " 1,000", "[", "]"]),
    st.text(max_size=10),
), max_size=30)


# Questions whose names the output may repeat, so that the check of a claim's passage
# (rag.grounding.not_in_passage) runs on names written and not written, acronyms among them.
QUESTIONS = st.one_of(st.text(max_size=80), st.sampled_from([
    "What did the towns agree in Lyon?", "How much will the Lyon Dam cost?", "What did The Towns Agreed say?",
    "Did the EU or the U.S. pay for it?", "What did Officials of Lyon's Council agree?"]))


@given(pieces=MODEL_OUTPUT, question=QUESTIONS)
def test_any_model_output_is_checked_into_a_consistent_answer(pieces, question):
    live = LiveRenumbering(len(PASSAGES))
    streamed = "".join(live.feed(piece) for piece in pieces) + live.flush()
    assert isinstance(streamed, str)
    checked = finish("".join(pieces), PASSAGES, question)
    if checked.abstained:
        assert checked.citations == []
        return
    used = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", checked.text)}
    assert used == {c.n for c in checked.citations} and sorted(used) == list(range(1, len(used) + 1))


@given(pieces=MODEL_OUTPUT, cuts=st.lists(st.integers(0, 400), max_size=12))
def test_what_a_reader_sees_streamed_does_not_depend_on_how_the_model_s_text_is_cut(pieces, cuts):
    """The model's tokens split its text anywhere, a citation marker included ("[", "2", "]"):
    the renumbered text shown while it streams must be the same however it is cut."""
    text = "".join(pieces)
    bounds = sorted({0, len(text), *(cut for cut in cuts if cut < len(text))})
    live, whole = LiveRenumbering(len(PASSAGES)), LiveRenumbering(len(PASSAGES))
    streamed = "".join(live.feed(text[a:b]) for a, b in zip(bounds, bounds[1:])) + live.flush()
    assert streamed == whole.feed(text) + whole.flush()


@given(lines=st.lists(st.one_of(st.text(max_size=60), st.sampled_from([
    '{"id": "q1", "question": "Where?", "answers": ["Astana"], "sources": ["a.txt"], "kind": "fact", "split": "dev", '
    '"evidence": [{"source": "a.txt", "start": 0, "end": 9}]}',
    '{"id": "q2", "question": "x", "answers": [], "sources": [], "kind": "unanswerable_near_miss", "split": "test"}',
    '{"id": 3}', "[]", "null", '{"evidence": [{"source": "a.txt", "start": 1, "end": 0}]}'])), max_size=5))
def test_any_questions_file_loads_or_is_refused_with_its_line(lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "q.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
        try:
            load_questions(path)
        except RagError:
            pass


QUESTIONS = st.one_of(st.text(max_size=200), st.binary(max_size=50), st.none(), st.integers(),
                      st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1,
                              max_size=5))


@given(question=QUESTIONS)
def test_any_question_gets_an_answer_or_a_rag_error(question, tmp_path_factory):
    # No index here: what reaches the index is refused with its fix, everything else before it.
    with pytest.raises(RagError):
        rag.ask(question, index_dir=tmp_path_factory.getbasetemp() / "no-index")


@pytest.mark.slow
@given(question=st.text(max_size=120).filter(str.strip))
@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_question_is_retrieved_for_or_refused(question, settings):
    """Through retrieval with the real embedder and index (the generator's part is covered above)."""
    from rag.embedding import load_embedder
    from rag.index import load_index
    from rag.retrieval import retrieve

    index = load_index(settings.index_dir, settings.embedding_model)
    try:
        hits = retrieve(question, index, load_embedder(settings.embedding_model), top_k=4)
    except RagError:
        return
    assert len(hits) <= 4 and all(-1.01 <= h.score <= 1.01 for h in hits)


SCOPE_TEXT = st.one_of(st.none(), st.text(max_size=24), st.sampled_from(
    ["2024", "2024-05", "2024-02-30", "May 2024", "16 May 2024", "0000", "9999-12-31", "/", "\\", "%", "_", "'",
     "000_011dc16fc288ae1d.txt", "TRT World", "trt", " "]))


@given(since=SCOPE_TEXT, until=SCOPE_TEXT, within=SCOPE_TEXT, outlet=SCOPE_TEXT)
@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_scope_is_searched_or_refused_with_a_reason(since, until, within, outlet, settings):
    """Whatever the fields a form or a request sends: its passages, all inside it, or a RagError."""
    from rag.index import load_index

    try:
        scope = rag.Scope(since=since, until=until, within=within, outlet=outlet)
        found = rag.search("talks in Istanbul", settings=settings, scope=scope)
    except RagError:
        return
    index = load_index(settings.index_dir, settings.embedding_model)
    for citation in found:
        record = index.articles[citation.source]
        assert not scope.within or citation.file == scope.within or citation.file.startswith(scope.within + "/")
        assert not scope.since or (record.date() or "")[:len(scope.since)] >= scope.since


# Settings files with any values for the real settings (and a few unknown keys): a Settings whose
# every field has its declared type, or a RagError naming the setting. Found this way: inf, nan,
# true, 4.9, [1, 2], "~nosuchuser/x" and nesting thousands deep each crashed or were misread.
SETTING_TYPES = {f.name: f.type for f in dataclasses.fields(Settings)}
TOML_VALUES = st.one_of(
    st.integers(-10**20, 10**20).map(str), st.floats().map(repr), st.text(max_size=30).map(json.dumps),
    st.sampled_from(["inf", "-inf", "nan", "1e400", "-1", "4.9", "true", "false", "1979-05-27", "[]", "[1, 2]", "{}",
                     '"~nosuchuser-rag/x"', '"llama_cpp"', '"transformers"', "0x10", "1_000",
                     "[" * 3000 + "]" * 3000]))


@given(entries=st.dictionaries(st.one_of(st.sampled_from(sorted(SETTING_TYPES)), st.text(max_size=8)), TOML_VALUES,
                               max_size=4))
@example(entries={"top_k": "inf"})
def test_any_settings_file_gives_typed_settings_or_a_reason(entries, tmp_path_factory):
    path = tmp_path_factory.mktemp("settings") / "rag.toml"
    path.write_text("".join(f"{json.dumps(k)} = {v}\n" for k, v in entries.items()), encoding="utf-8",
                    errors="surrogatepass")
    try:
        settings = load_settings(path)
    except RagError:
        return
    types = {"int": int, "float": float, "bool": bool, "str": str, "Path": Path}
    for name, kind in SETTING_TYPES.items():
        value = getattr(settings, name)
        assert isinstance(value, types[kind]) and (kind != "int" or not isinstance(value, bool)), (name, value)
        assert kind != "float" or math.isfinite(value), (name, value)

