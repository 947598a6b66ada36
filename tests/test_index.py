"""The on-disk index: round trip, stable ids, incremental sync, refusals, and nothing lost when a
writer fails, is killed, or meets another writer."""

import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

import rag
from conftest import ISTANBUL, SEEDS
from rag import vectors as vector_file
from rag.embedding import Embedder, load_embedder
from rag.index import DATABASE, VERSION, load_index, read_catalog
from rag.injection import RULES as INJECTION_RULES
from rag.loading import SUPPORTED_SUFFIXES


def _chunks(index_dir, settings):
    return list(load_index(index_dir, settings.embedding_model).all_chunks())


def test_round_trip_keeps_every_chunk_and_finds_each_by_its_own_text(seed_index, settings):
    stored = load_index(seed_index, settings.embedding_model)
    assert stored.meta["format"] == "rag-news-index" and stored.meta["version"] == VERSION
    assert stored.meta["embedding_model"] == "all-MiniLM-L6-v2" and stored.meta["dimension"] == 384
    assert sorted(stored.articles) == sorted(p.name for p in SEEDS.iterdir())
    chunks = list(stored.all_chunks())
    assert sum(a.chunks for a in stored.articles.values()) == len(chunks) == stored.size
    embedder = load_embedder(settings.embedding_model)
    for chunk in chunks[:: max(1, len(chunks) // 5)]:
        [(row, score)] = stored.search(embedder.embed([f"{chunk.title}\n{chunk.text}"])[0], 1)
        assert stored.chunks([row])[row] == chunk and score == pytest.approx(1.0, abs=1e-4)


def test_offsets_point_at_the_quoted_text_in_the_source_file(seed_index, settings):
    for chunk in _chunks(seed_index, settings):
        assert (SEEDS / chunk.source).read_text(encoding="utf-8")[chunk.start:chunk.end] == chunk.text


def test_reindexing_the_same_files_gives_the_same_chunk_ids(seed_index, settings, tmp_path):
    rag.build_index(SEEDS, tmp_path / "again", settings=settings, progress=False)
    first = [c.id for c in _chunks(seed_index, settings)]
    second = [c.id for c in _chunks(tmp_path / "again", settings)]
    assert first == second and len(set(first)) == len(first)


def test_keyword_search_ranks_by_bm25_and_ignores_words_most_passages_use(seed_index, settings):
    stored = load_index(seed_index, settings.embedding_model)
    rows = stored.keyword_search("Bayraktar drones", 3)
    assert rows and all("Bayraktar" in stored.chunks(rows)[row].text for row in rows[:1])
    assert stored.keyword_search("the", 5) == []  # in more than half the passages: no weight in BM25
    assert stored.keyword_search('"unbalanced quote ) OR NEAR(', 5) is not None  # query syntax never leaks


def test_keyword_search_leaves_out_a_short_word_most_passages_use(settings, tmp_path):
    """FTS5 keeps "is" whole where Porter's stemmer makes it "i": the word is counted as FTS5
    stores it, so a question's "is" does not match every passage of the archive."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in [("port.txt", "Zanzibar is an island port."), ("rain.txt", "The rain is heavy today."),
                       ("vote.txt", "The vote is on Monday."), ("team.txt", "The team is unbeaten.")]:
        (folder / name).write_text(f"{name[:-4].title()}\n\n{text}\n", encoding="utf-8")
    rag.build_index(folder, tmp_path / "index", settings=settings, progress=False)
    stored = load_index(tmp_path / "index", settings.embedding_model)
    assert [stored.chunks([row])[row].source for row in stored.keyword_search("Where is Zanzibar?", 5)] == ["port.txt"]


def test_articles_judged_by_other_injection_rules_are_judged_again_without_embedding(settings, tmp_path,
                                                                                     monkeypatch, capsys):
    """An index built before rag.injection's rules changed trusts less the articles those rules
    flagged (8 BBC stories, before 2026-12-05): its next sync judges them again, embedding nothing."""
    from rag.cli import main

    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    rag.build_index(folder, index_dir, settings=settings, progress=False)
    assert read_catalog(index_dir)[0]["injection_rules"] == INJECTION_RULES
    with sqlite3.connect(index_dir / DATABASE) as db:  # as older rules left it
        db.execute("UPDATE articles SET addresses_assistant = 1 WHERE source = ?", (ISTANBUL,))
        db.execute("UPDATE meta SET value = ? WHERE key = 'injection_rules'", (json.dumps("older rules"),))
    # A dry run says so: every file to read again, none changed, nothing embedded.
    assert main(["--index-dir", str(index_dir), "index", str(folder), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (len(plan["read_again"]), plan["change"], plan["add"], plan["unchanged"]) == (5, [], [], 0)
    embedded = []
    monkeypatch.setattr(Embedder, "embed", lambda self, texts, progress=False: embedded.extend(texts))

    again = rag.build_index(folder, index_dir, settings=settings, progress=False)
    meta, articles = read_catalog(index_dir)
    assert (again.embedded, again.articles, embedded) == (0, 5, [])
    assert not any(article.addresses_assistant for article in articles)
    assert meta["injection_rules"] == INJECTION_RULES
    assert main(["--index-dir", str(index_dir), "index", str(folder), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unchanged"] == 5  # judged now: nothing to read again


def test_articles_read_by_older_rules_are_read_again_and_only_those_read_otherwise_embedded(settings, tmp_path,
                                                                                             monkeypatch):
    """A change to how articles are read (2026-12-07: a clipped article's front matter, titled
    "title: ..." and embedded as its first passage before) reached an index only for files that
    changed: its next sync now reads every file again and embeds only the articles read otherwise."""
    import rag.loading

    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    (folder / "clip.md").write_text('---\ntitle: "Grain deal renewed"\nsource: https://news.example/grain\n---\n'
                                    "Ships sail again from Odesa, the port authority said on Friday.\n")
    with monkeypatch.context() as older:  # as the rules before front matter and Markdown read it
        older.setattr(rag.loading, "front_matter", lambda text: ({}, 0))
        older.setattr(rag.loading, "_MARKDOWN_SUFFIXES", ())
        rag.build_index(folder, index_dir, settings=settings, progress=False)
    with sqlite3.connect(index_dir / DATABASE) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'reader'", (json.dumps(1),))
    assert {a.source: a.title for a in read_catalog(index_dir)[1]}["clip.md"] == 'title: "Grain deal renewed"'
    embedded, embed = [], Embedder.embed
    monkeypatch.setattr(Embedder, "embed", lambda self, texts, progress=False: embedded.extend(texts) or
                        embed(self, texts, progress))

    again = rag.build_index(folder, index_dir, settings=settings, progress=False)
    meta, articles = read_catalog(index_dir)
    clip = next(a for a in articles if a.source == "clip.md")
    assert (clip.title, clip.url, again.embedded, again.articles) == (
        "Grain deal renewed", "https://news.example/grain", 1, 6)
    assert embedded == ["Grain deal renewed\nShips sail again from Odesa, the port authority said on Friday."]
    assert meta["reader"] == rag.loading.READER_VERSION
    # Read by today's rules now: the next sync reads nothing again.
    assert rag.build_index(folder, index_dir, settings=settings, progress=False).embedded == 0


def test_sync_reads_and_embeds_only_what_changed(settings, tmp_path, monkeypatch):
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    first = rag.build_index(folder, index_dir, settings=settings, progress=False)
    assert (first.embedded, first.removed, first.articles) == (5, 0, 5)
    rows_before = {c.id: row for row, c in _rows(index_dir, settings).items()}
    embedded_texts = []
    real_embed = Embedder.embed

    def counting_embed(self, texts, progress=False):
        embedded_texts.extend(texts)
        return real_embed(self, texts, progress)

    monkeypatch.setattr(Embedder, "embed", counting_embed)

    again = rag.build_index(folder, index_dir, settings=settings, progress=False)
    assert (again.embedded, again.removed) == (0, 0) and embedded_texts == []

    (folder / "cod.txt").write_text("Norway and Iceland agree Arctic cod quota\n\nThe ministers signed it in "
                                    "Tromsø on March 3, 2026.\n", encoding="utf-8")
    with open(folder / ISTANBUL, "a", encoding="utf-8") as f:
        f.write("\nA paragraph added later about the talks.\n")
    (folder / sorted(os.listdir(SEEDS))[0]).unlink()
    changed = rag.build_index(folder, index_dir, settings=settings, progress=False)
    assert (changed.embedded, changed.removed, changed.articles) == (2, 1, 5)
    stored = load_index(index_dir, settings.embedding_model)
    # Exactly the passages of the two files read, once each: nothing else was embedded.
    assert len(embedded_texts) == stored.articles["cod.txt"].chunks + stored.articles[ISTANBUL].chunks

    # Untouched articles keep their passages' rows (and so their vectors' ids)...
    rows_after = {c.id: row for row, c in _rows(index_dir, settings).items()}
    kept = [key for key in rows_before if key in rows_after]
    assert kept and all(rows_before[key] == rows_after[key] for key in kept)
    # ...and the index equals one built from scratch over the same folder.
    fresh_dir = tmp_path / "fresh"
    rag.build_index(folder, fresh_dir, settings=settings, progress=False)
    assert sorted(c.id for c in _chunks(index_dir, settings)) == sorted(c.id for c in _chunks(fresh_dir, settings))
    synced, fresh = load_index(index_dir, settings.embedding_model), load_index(fresh_dir, settings.embedding_model)
    by_key = {c.id: row for row, c in _rows(fresh_dir, settings).items()}
    for key, row in rows_after.items():
        assert np.allclose(synced.vectors_of([row])[0], fresh.vectors_of([by_key[key]])[0], atol=1e-5)


def test_a_watched_folder_is_synced_when_its_files_change_and_not_otherwise(settings, tmp_path):
    """rag index DIR --watch: a feed reader or a script keeps adding articles; each change is
    indexed at the next look, a look at an unchanged folder syncs nothing, and a folder gone for a
    while is said once, the watch going on."""
    import threading

    from rag.errors import RagError
    from rag.sync import watch

    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    folder.mkdir()
    shutil.copy(SEEDS / ISTANBUL, folder)
    reports, stop = [], threading.Event()
    def sync():
        return rag.build_index(folder, index_dir, settings=settings, progress=False)

    watcher = threading.Thread(target=watch, args=(folder, sync),
                               kwargs={"every": 0.2, "report": reports.append, "stop": stop})
    watcher.start()

    def reported(count):
        deadline = time.monotonic() + 60
        while len(reports) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.6)  # three more looks: none may sync again
        return [(r.embedded, r.removed, r.articles) if isinstance(r, rag.IndexInfo) else str(r) for r in reports]

    try:
        assert reported(1) == [(1, 0, 1)]
        (folder / "cod.txt").write_text("Norway and Iceland agree cod quota\n\nThe ministers signed it in Tromsø.\n",
                                        encoding="utf-8")
        assert reported(2)[1:] == [(1, 0, 2)]
        (folder / ISTANBUL).unlink()
        assert reported(3)[2:] == [(0, 1, 1)]
        folder.rename(tmp_path / "away")
        assert reported(4)[3:] == [f"no such folder: {folder}"] and isinstance(reports[3], RagError)
        (tmp_path / "away").rename(folder)
        (folder / "cod.txt").write_text("Norway and Iceland agree a larger cod quota.\n", encoding="utf-8")
        assert reported(5)[4:] == [(1, 0, 1)]
    finally:
        stop.set()
        watcher.join(10)
    assert not watcher.is_alive()
    assert set(load_index(index_dir, settings.embedding_model).articles) == {"cod.txt"}


def test_a_watch_syncs_a_file_being_copied_in_once_it_has_stopped_changing(tmp_path):
    """A PDF copied from a slow drive grows between looks; read half-way it was reported
    unreadable. The watch waits for two looks that agree, and for no longer than a look's
    interval when a file is written to all the time."""
    import threading

    from rag.sync import folder_state, settled

    folder, stop = tmp_path / "articles", threading.Event()
    folder.mkdir()
    growing = folder / "report.txt"
    growing.write_text("", encoding="utf-8")  # there before the first look (an empty folder is refused)

    def copy_in(pieces):
        for _ in range(pieces):
            with growing.open("a", encoding="utf-8") as out:
                out.write("The ministers signed the cod quota in Tromsø. ")
            time.sleep(0.05)

    copier = threading.Thread(target=copy_in, args=(10,))
    copier.start()
    state = settled(folder, folder_state(folder), 0.5, 30, stop)
    assert not copier.is_alive() and state == folder_state(folder)  # the whole file, not a part of it
    assert growing.stat().st_size == 10 * len("The ministers signed the cod quota in Tromsø. ".encode())

    copier = threading.Thread(target=copy_in, args=(100,))  # written to for 5 s
    copier.start()
    settled(folder, folder_state(folder), 0.2, 0.6, stop)
    assert copier.is_alive()  # synced after the longest wait, before the writing ends
    copier.join()


def _rows(index_dir, settings):
    stored = load_index(index_dir, settings.embedding_model)
    return stored.chunks(stored.row_ids())


@pytest.fixture
def index_copy(seed_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    return copy


def _sql(index_dir, statement, *args):
    with sqlite3.connect(index_dir / DATABASE) as db:
        db.execute(statement, args)


def test_passages_longer_than_the_embedding_model_reads_are_refused(settings, tmp_path):
    """all-MiniLM-L6-v2 reads 256 tokens: with chunk_tokens above that, the end of every passage
    was indexed for keywords but never embedded."""
    with pytest.raises(rag.BadInputError, match="chunk_tokens is 300, but all-MiniLM-L6-v2 reads at most 256"):
        rag.build_index(SEEDS, tmp_path / "index", settings=dataclasses.replace(settings, chunk_tokens=300),
                        progress=False)
    assert not (tmp_path / "index").exists()


def test_an_index_built_with_other_settings_is_rebuilt_once_and_then_synced(index_copy, settings):
    smaller = dataclasses.replace(settings, chunk_tokens=100)
    assert rag.build_index(SEEDS, index_copy, settings=smaller, progress=False).embedded == 5
    assert load_index(index_copy, settings.embedding_model).meta["chunk_tokens"] == 100
    # Recorded as built with them, so the next sync embeds nothing.
    assert rag.build_index(SEEDS, index_copy, settings=smaller, progress=False).embedded == 0


def test_index_built_with_another_model_is_refused(index_copy, settings):
    _sql(index_copy, "UPDATE meta SET value = ? WHERE key = 'embedding_model'", '"all-mpnet-base-v2"')
    with pytest.raises(rag.IndexUnusableError, match="built with embedding model 'all-mpnet-base-v2'"):
        load_index(index_copy, settings.embedding_model)


@pytest.mark.parametrize("damage", ["truncate vectors", "flip a vector byte", "drop chunks", "garble database",
                                    "delete vectors", "meta not JSON", "generation not a number"])
def test_damaged_index_is_refused_with_the_fix(index_copy, settings, damage):
    vectors = index_copy / read_catalog(index_copy)[0]["vectors_file"]
    if damage == "truncate vectors":
        vectors.write_bytes(vectors.read_bytes()[:100])
    elif damage == "flip a vector byte":  # same size, still loads: once scored a hit 3e36
        data = bytearray(vectors.read_bytes())
        data[len(data) // 2] ^= 0x7F
        vectors.write_bytes(bytes(data))
    elif damage == "drop chunks":
        _sql(index_copy, "DELETE FROM chunks")
    elif damage == "delete vectors":
        vectors.unlink()
    elif damage == "meta not JSON":  # `rag index` ended in a JSONDecodeError, so it was no fix
        _sql(index_copy, "UPDATE meta SET value = '{' WHERE key = 'created'")
    elif damage == "generation not a number":
        _sql(index_copy, "UPDATE meta SET value = '\"x\"' WHERE key = 'generation'")
    else:
        for path in index_copy.glob(f"{DATABASE}*"):
            path.unlink()
        (index_copy / DATABASE).write_bytes(b"not a database at all" * 100)
    with pytest.raises(rag.IndexUnusableError, match="rag index"):
        load_index(index_copy, settings.embedding_model)
    # `rag index` is the fix: it starts again from the folder.
    assert rag.build_index(SEEDS, index_copy, settings=settings, progress=False).articles == 5
    assert load_index(index_copy, settings.embedding_model).size > 0


def test_an_index_of_the_first_format_is_refused_then_rebuilt(settings, tmp_path):
    old = tmp_path / "index"
    old.mkdir()
    for name in ("manifest.json", "chunks-20261122T000000-1-abcdef.jsonl", "vectors-20261122T000000-1-abcdef.faiss"):
        (old / name).write_text("{}")
    with pytest.raises(rag.IndexUnusableError, match="version 1.*rebuild it with `rag index DIR`"):
        load_index(old, settings.embedding_model)
    rag.build_index(SEEDS, old, settings=settings, progress=False)
    assert {p.name for p in old.iterdir()} <= {DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", "vectors-000001.faiss"}
    assert load_index(old, settings.embedding_model).size > 0


def test_a_failed_sync_leaves_the_existing_index_intact(index_copy, settings, tmp_path):
    before = read_catalog(index_copy)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "junk.txt").write_bytes(b"\x89PNG\x00\x00\x01binary")
    with pytest.raises(rag.BadInputError):
        rag.build_index(empty, index_copy, settings=settings, progress=False)
    assert read_catalog(index_copy) == before
    assert load_index(index_copy, settings.embedding_model).size > 0


def test_a_reader_of_the_old_index_survives_a_sync_and_the_next_load_sees_the_new(index_copy, settings, tmp_path):
    old = load_index(index_copy, settings.embedding_model)
    source = tmp_path / "one"
    source.mkdir()
    shutil.copy(SEEDS / ISTANBUL, source)
    rag.build_index(source, index_copy, settings=settings, progress=False)
    # The old generation's vector file is kept for readers that opened it a moment ago.
    assert (index_copy / old.meta["vectors_file"]).exists()
    new = load_index(index_copy, settings.embedding_model)
    assert {c.source for c in new.all_chunks()} == {ISTANBUL} and old.size > new.size
    assert new.articles[ISTANBUL].added == old.articles[ISTANBUL].added
    # Articles are read as committed now, as passages are: the removed ones are gone for both.
    removed = next(name for name in os.listdir(SEEDS) if name != ISTANBUL)
    assert old.articles.get(removed) is None and removed not in new.articles
    shutil.copy(SEEDS / sorted(os.listdir(SEEDS))[0], source)
    rag.build_index(source, index_copy, settings=settings, progress=False)
    assert not (index_copy / old.meta["vectors_file"]).exists()  # two commits later it is gone


def test_a_generation_reads_its_articles_when_asked_for_as_the_catalog_lists_them(index_copy, settings):
    stored = load_index(index_copy, settings.embedding_model)
    listed = {record.source: record for record in read_catalog(index_copy)[1]}
    assert list(stored.articles) == sorted(listed) and len(stored.articles) == len(listed)
    assert {source: stored.articles[source] for source in listed} == listed
    assert stored.years == {record.date()[:4] for record in listed.values() if record.date()} == {"2022", "2025"}
    assert stored.articles.get("no such article.txt") is None


def test_an_article_record_that_is_damaged_is_refused_with_the_fix_when_it_is_read(index_copy, settings):
    _sql(index_copy, "UPDATE articles SET dates = 'not JSON' WHERE source = ?", ISTANBUL)
    stored = load_index(index_copy, settings.embedding_model)  # the other articles are fine
    assert all(stored.articles[source].title for source in stored.articles if source != ISTANBUL)
    with pytest.raises(rag.IndexUnusableError, match="rag index"):
        stored.articles.get(ISTANBUL)


def test_a_build_of_the_ann_size_writes_an_approximate_index_that_still_finds_each_passage(settings, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.setattr(vector_file, "ANN_FROM", 20)  # the seeds' 41 passages count as an archive
    monkeypatch.setattr(vector_file, "NPROBE", 2)
    rag.build_index(SEEDS, tmp_path / "index", settings=settings, progress=False)
    stored = load_index(tmp_path / "index", settings.embedding_model)
    assert vector_file.is_approximate(stored.vectors.file)
    embedder = load_embedder(settings.embedding_model)
    chunks = list(stored.all_chunks())
    found = 0
    for chunk in chunks:
        [(row, _)] = stored.search(embedder.embed([f"{chunk.title}\n{chunk.text}"])[0], 1)
        found += stored.chunks([row])[row] == chunk
    assert found / len(chunks) >= 0.9
    # Removing an article removes its vectors from the approximate index too: recorded in the
    # database, then written into a new file.
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    (folder / ISTANBUL).unlink()
    for share in (10.0, 0.1):
        monkeypatch.setattr(rag.index, "REWRITE_SHARE", share)
        rag.build_index(folder, tmp_path / "index", settings=settings, progress=False)
        stored = load_index(tmp_path / "index", settings.embedding_model)
        assert stored.size == sum(a.chunks for a in stored.articles.values()) and ISTANBUL not in stored.articles
        found = {row for chunk in chunks for row, _ in stored.search(
            embedder.embed([f"{chunk.title}\n{chunk.text}"])[0], 5)}
        assert found <= set(stored.row_ids())
        assert {c.source for c in stored.chunks(sorted(found)).values()} == set(stored.articles)


def _ranking(index_dir, settings, questions):
    """The passages (by key) a dense search ranks first for each question, over the whole index."""
    stored = load_index(index_dir, settings.embedding_model)
    embedder = load_embedder(settings.embedding_model)
    rows = [[row for row, _ in stored.search(vector, stored.size)] for vector in embedder.embed(questions)]
    keys = stored.chunks(sorted({row for ranked in rows for row in ranked}))
    return [[keys[row].id for row in ranked] for ranked in rows]


def _vectors_by_key(index_dir, settings):
    """Every passage's stored vector, in the order of the passages' keys."""
    stored = load_index(index_dir, settings.embedding_model)
    rows = stored.row_ids()
    keys = stored.chunks(rows)
    return stored.vectors_of(sorted(rows, key=lambda row: keys[row].id))


def _recorded(index_dir):
    with sqlite3.connect(index_dir / DATABASE) as db:
        return db.execute("SELECT (SELECT count(*) FROM vectors_added), "
                          "(SELECT count(*) FROM vectors_removed)").fetchone()


_QUESTIONS = ["What came out of the May 2025 Istanbul talks?", "Where does the ferry to the island leave from?",
              "What did Erdogan offer Putin?"]
_FERRY = "Island ferry\n\nThe ferry to the island now leaves from the north pier, the harbour board said on Monday."


def test_a_small_change_to_an_archive_is_recorded_in_the_database_and_searched_as_a_rebuild_would(
        settings, tmp_path, monkeypatch):
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    rag.build_index(folder, index_dir, settings=settings, progress=False)
    written = read_catalog(index_dir)[0]["vectors_file"]
    passages = {a.source: a.chunks for a in read_catalog(index_dir)[1]}
    monkeypatch.setattr(rag.index, "REWRITE_SHARE", 10.0)  # the seeds' 41 passages count as an archive
    (folder / ISTANBUL).unlink()
    (folder / "ferry.txt").write_text(_FERRY, encoding="utf-8")
    info = rag.build_index(folder, index_dir, settings=settings, progress=False)
    assert (info.embedded, info.removed) == (1, 1)
    # No vector file written: the new passage's vector and the removed ones' ids are in the database.
    assert read_catalog(index_dir)[0]["vectors_file"] == written and [p.name for p in index_dir.glob("*.faiss")] == [
        written]
    assert _recorded(index_dir) == (1, passages[ISTANBUL])
    rebuilt = tmp_path / "rebuilt"
    rag.build_index(folder, rebuilt, settings=settings, progress=False)
    assert _ranking(index_dir, settings, _QUESTIONS) == _ranking(rebuilt, settings, _QUESTIONS)
    assert np.allclose(_vectors_by_key(index_dir, settings), _vectors_by_key(rebuilt, settings), atol=1e-6)
    assert _ranking(index_dir, settings, _QUESTIONS)[1][0] == next(
        c.id for c in _chunks(rebuilt, settings) if c.source == "ferry.txt")
    # Once the changes reach REWRITE_SHARE of the file, the next commit writes a new one in their place.
    monkeypatch.setattr(rag.index, "REWRITE_SHARE", 0.1)
    (folder / "ferry.txt").write_text(_FERRY + " Tickets cost two pounds.", encoding="utf-8")
    rag.build_index(folder, index_dir, settings=settings, progress=False)
    rag.build_index(folder, rebuilt, settings=settings, progress=False)
    assert read_catalog(index_dir)[0]["vectors_file"] != written and _recorded(index_dir) == (0, 0)
    assert _ranking(index_dir, settings, _QUESTIONS) == _ranking(rebuilt, settings, _QUESTIONS)


def test_a_recorded_vector_that_is_damaged_is_refused_and_rag_index_starts_again(settings, tmp_path, monkeypatch):
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    rag.build_index(folder, index_dir, settings=settings, progress=False)
    monkeypatch.setattr(rag.index, "REWRITE_SHARE", 10.0)
    (folder / "ferry.txt").write_text(_FERRY, encoding="utf-8")
    rag.build_index(folder, index_dir, settings=settings, progress=False)
    _sql(index_dir, "UPDATE vectors_added SET vector = substr(vector, 1, 100)")
    with pytest.raises(rag.IndexUnusableError, match="damaged.*rag index"):
        load_index(index_dir, settings.embedding_model)
    assert rag.build_index(folder, index_dir, settings=settings, progress=False).embedded == 6
    assert load_index(index_dir, settings.embedding_model).size == sum(
        a.chunks for a in read_catalog(index_dir)[1])


def test_an_index_of_version_4_is_read_and_brought_to_version_5_without_embedding_again(index_copy, settings):
    # What version 4 wrote: no tables of recorded changes, no vector count in the settings.
    _sql(index_copy, "DROP TABLE vectors_added")
    _sql(index_copy, "DROP TABLE vectors_removed")
    _sql(index_copy, "DELETE FROM meta WHERE key = 'vectors_count'")
    _sql(index_copy, "UPDATE meta SET value = '4' WHERE key = 'version'")
    passages = sum(a.chunks for a in read_catalog(index_copy)[1])
    assert load_index(index_copy, settings.embedding_model).size == passages
    info = rag.build_index(SEEDS, index_copy, settings=settings, progress=False)
    assert info.embedded == 0 and info.articles == 5
    stored = load_index(index_copy, settings.embedding_model)
    assert stored.meta["version"] == VERSION == 5 and stored.meta["vectors_count"] == stored.size == passages


def test_unreadable_files_are_skipped_by_name_and_the_rest_indexed(settings, tmp_path):
    source = tmp_path / "articles"
    source.mkdir()
    shutil.copy(SEEDS / ISTANBUL, source)
    (source / "image.txt").write_bytes(b"\x89PNG\x00\x00\x01binary")
    info = rag.build_index(source, tmp_path / "index", settings=settings, progress=False)
    assert info.articles == 1
    assert [s.split(":")[0] for s in info.skipped] == ["image.txt"]


def test_a_vector_that_is_not_finite_is_refused_by_article_and_the_batch_rolled_back(index_copy, settings, tmp_path):
    """The shipped embedders give zeros for an empty text, but a custom `embed` (the Ray path,
    another model) can return NaN: such a vector was indexed, never found by exact search, and
    from ANN_FROM passages made the IVF's training fail at every later sync."""
    from rag.sync import sync_folder

    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    for name, text in [("cod.txt", "Cod quota agreed"), ("hake.txt", "Hake quota agreed"),
                       ("salmon.txt", "Salmon quota agreed")]:
        (folder / name).write_text(f"{text}\n\nNorway and Iceland agreed it in Tromsø.\n", encoding="utf-8")
    real = load_embedder(settings.embedding_model).embed

    def failing_embed(texts):
        vectors = real(texts)
        vectors[["Cod" in t for t in texts]] = np.nan
        vectors[["Salmon" in t for t in texts], 0] = np.inf
        return vectors

    before = read_catalog(index_copy)
    refusal = r"not finite .* cod\.txt, salmon\.txt\b.*last commit is kept"
    with pytest.raises(rag.BadInputError, match=refusal) as refused:
        sync_folder(folder, index_copy, settings, embed=failing_embed, progress=False)
    assert "hake.txt" not in str(refused.value)
    assert read_catalog(index_copy) == before  # hake.txt, in the same batch, was rolled back too
    assert load_index(index_copy, settings.embedding_model).size == sum(a.chunks for a in before[1])


# A sync in its own process (as a UI would be beside a shell `rag index`), one file per commit;
# with a fourth argument it pauses inside its write transaction until that file exists, then fails.
_WRITER = """
import sys, time
from pathlib import Path
import rag, rag.index, rag.sync, rag.vectors

rag.sync.BATCH_ARTICLES = 1
rag.index.REWRITE_SHARE = 3.0  # some commits record their vectors in the database, others write the file
if len(sys.argv) > 3:
    paused, go = Path(sys.argv[3]), Path(sys.argv[4])

    def paused_then_failing(index, path):
        paused.touch()
        deadline = time.monotonic() + 240
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        raise OSError(28, "No space left on device")

    rag.vectors.write = paused_then_failing
try:
    rag.build_index(sys.argv[1], sys.argv[2], progress=False)
except rag.IndexUnusableError as exc:
    assert "No space left on device" in str(exc) and "the last commit is kept" in str(exc), exc
    sys.exit(3)
"""


def test_two_writers_in_two_processes_take_turns(tmp_path):
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    paused, go = tmp_path / "paused", tmp_path / "go"
    shutil.copytree(SEEDS, folder)
    first = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder), str(index_dir), str(paused), str(go)],
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not paused.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert paused.exists(), first.stderr.read() if first.poll() is not None else "the first writer never paused"
    second = subprocess.Popen([sys.executable, "-m", "rag.cli", "--index-dir", str(index_dir), "index", str(folder)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(15)  # long enough for the second to load its models and reach the first's lock
    assert second.poll() is None, "the second writer did not wait for the first"
    go.touch()
    assert first.wait(60) == 3  # its commit failed, as injected
    assert second.wait(240) == 0, second.stderr.read()
    stored = load_index(index_dir, "all-MiniLM-L6-v2")
    assert len(stored.articles) == 5 and stored.size == sum(a.chunks for a in stored.articles.values())
    assert [p.name for p in index_dir.glob("*.faiss*")] == [stored.meta["vectors_file"]]


@pytest.mark.slow
def test_kill_9_at_any_moment_leaves_a_usable_index_and_the_next_sync_completes_it(settings, tmp_path):
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    rag.build_index(folder, tmp_path / "fresh", settings=settings, progress=False)
    expected = sorted(c.id for c in _chunks(tmp_path / "fresh", settings))
    # Killed after 1 s (loading models), then at moments spread over its five commits.
    for delay in (1.0, 6.0, 7.0, 8.0, 9.0):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder), str(index_dir)])
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        if (index_dir / DATABASE).exists() and read_catalog(index_dir)[0].get("vectors_file"):
            stored = load_index(index_dir, settings.embedding_model)  # usable: no error
            assert stored.size == sum(a.chunks for a in stored.articles.values())
    rag.build_index(folder, index_dir, settings=settings, progress=False)
    assert sorted(c.id for c in _chunks(index_dir, settings)) == expected


def test_a_pdf_article_keeps_its_pages_and_date_so_a_citation_names_its_page(settings, tmp_path):
    from rag.answer import finish
    from rag.schema import Hit
    from test_loading import GRAIN_PDF, make_pdf

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "grain.pdf").write_bytes(make_pdf(GRAIN_PDF, title="Grain deal renewed"))
    rag.build_index(folder, tmp_path / "index", settings=settings, progress=False)
    stored = load_index(tmp_path / "index", settings.embedding_model)
    record = stored.articles["grain.pdf"]
    assert record.published == "2023-03-18" and len(record.pages) == 3
    chunk = next(c for c in stored.all_chunks() if "The talks resume" in c.text)
    checked = finish("The talks resume in June in Geneva [1].", [Hit(chunk, 0.8)], "When do the talks resume?",
                     stored.articles)
    [citation] = checked.citations
    assert citation.date == "2023-03-18" and citation.page == 2  # the page of the sentence it rests on


def test_dense_search_returns_what_a_brute_force_scan_of_every_vector_returns(seed_index, settings):
    stored = load_index(seed_index, settings.embedding_model)
    rows = stored.row_ids()
    every = stored.vectors_of(rows)
    embedder = load_embedder(settings.embedding_model)
    for question in ["What came out of the May 2025 Istanbul talks?", "Bayraktar drones", "capital of Australia"]:
        query = embedder.embed([question])[0]
        scores = every @ query
        brute = [rows[i] for i in np.argsort(-scores)[:10]]
        found = stored.search(query, 10)
        assert [row for row, _ in found] == brute
        assert [score for _, score in found] == pytest.approx(sorted(scores, reverse=True)[:10], abs=1e-5)


def test_a_file_that_disappears_or_changes_during_a_sync_is_reported_or_read_again(settings, tmp_path, monkeypatch):
    import rag.sync

    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    gone, edited = sorted(os.listdir(SEEDS))[:2]
    real_load = rag.sync.load_or_skip

    def racing_load(path, *limits):
        if path.name == gone:
            path.unlink()  # deleted after it was hashed
        if path.name == edited:
            with open(path, "a", encoding="utf-8") as f:  # changed after it was hashed
                f.write("\nA sentence written while the sync ran.\n")
        return real_load(path, *limits)

    monkeypatch.setattr(rag.sync, "load_or_skip", racing_load)
    info = rag.build_index(folder, index_dir, settings=settings, progress=False)
    assert info.articles == 4 and [s.split(":")[0] for s in info.skipped] == [gone]
    monkeypatch.setattr(rag.sync, "load_or_skip", real_load)
    # Indexed as read but under the hash it had before the change, so the next sync reads it
    # again; its text is the one indexed, so it is not embedded again, only its hash updated.
    assert any("written while the sync ran" in c.text for c in _chunks(index_dir, settings))
    again = rag.build_index(folder, index_dir, settings=settings, progress=False)
    assert (again.embedded, again.articles) == (0, 4)
    from rag.loading import article_files
    from rag.sync import build_for, plan_sync
    plan = plan_sync(folder, article_files(folder), index_dir, build_for(settings), settings.max_file_bytes,
                     settings.max_archive_bytes)
    assert (plan.changed, len(plan.unchanged)) == ([], 4)


# `rag index` with a file size limit (as a full disk would), the limit's signal ignored so that
# the write fails with an error instead of killing the process.
_LIMITED = """
import resource, signal, sys
from rag.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
sys.exit(main(sys.argv[2:]))
"""


def test_a_full_disk_during_a_sync_is_a_clear_error_and_keeps_the_last_commit(settings, tmp_path):
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    folder.mkdir()
    shutil.copy(SEEDS / ISTANBUL, folder)
    rag.build_index(folder, index_dir, settings=settings, progress=False)
    before = read_catalog(index_dir)[1]
    for path in sorted(SEEDS.iterdir()):  # much more text than the limit leaves room for
        (folder / f"copy-{path.name}").write_text(path.read_text(encoding="utf-8") + "\nCopied.\n", encoding="utf-8")
    # Room for SQLite's 32 KB shared-memory file and the vector file of the one article, not for
    # five articles more (in the WAL or the vector file).
    limit = 32_768 + next(index_dir.glob("vectors-*.faiss")).stat().st_size + 5_000
    result = subprocess.run([sys.executable, "-c", _LIMITED, str(limit), "--index-dir", str(index_dir), "index",
                             str(folder)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "could not write the index" in result.stderr and "the last commit is kept" in result.stderr
    assert "Traceback" not in result.stderr
    assert read_catalog(index_dir)[1] == before
    assert load_index(index_dir, settings.embedding_model).size == before[0].chunks


def test_dry_run_says_what_a_sync_would_do_and_changes_nothing(settings, tmp_path):
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    rag.build_index(folder, index_dir, settings=settings, progress=False)
    (folder / "2026").mkdir()  # an article in a sub-folder goes by its path in the folder
    (folder / "2026" / "cod.txt").write_text("Arctic cod quota agreed\n\nNorway and Iceland agreed it.\n",
                                             encoding="utf-8")
    (folder / ISTANBUL).unlink()
    before = read_catalog(index_dir)
    result = subprocess.run([sys.executable, "-m", "rag.cli", "--index-dir", str(index_dir), "index", str(folder),
                             "--dry-run"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "would add 2026/cod.txt" in result.stdout and f"would remove {ISTANBUL}" in result.stdout
    assert "would add 1, change 0, remove 1, skip 0 and leave 4 unchanged" in result.stdout
    assert "holds 5 articles" in result.stdout
    assert read_catalog(index_dir) == before


def test_a_sub_folder_that_cannot_be_listed_keeps_what_was_indexed_from_it(tmp_path, monkeypatch, capsys):
    """A year of the archive whose folder cannot be listed for a while (its permissions changed, a
    mount failed) was taken for deleted: the sync removed every article indexed from it, and the
    next one had to embed them all again. Now the sync says it could not list it and keeps them,
    and judges every article again at its next sync if today's rules of rag.injection are newer."""
    from rag.cli import main
    from test_loading import _unlistable

    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    (folder / "2024").mkdir(parents=True)
    seeds = sorted(SEEDS.iterdir())
    shutil.copy(seeds[0], folder)
    for path in seeds[1:3]:
        shutil.copy(path, folder / "2024")
    settings = rag.load_settings(index_dir=index_dir)
    rag.build_index(folder, settings=settings, progress=False)
    before = read_catalog(index_dir)[1]
    with sqlite3.connect(index_dir / DATABASE) as db:  # as if indexed by older rules of rag.injection
        db.execute("UPDATE meta SET value = ? WHERE key = 'injection_rules'", (json.dumps("older rules"),))

    _unlistable(monkeypatch, "2024")
    reason = "2024/: cannot be listed (Permission denied); the 2 files indexed from it are kept"
    assert main(["--index-dir", str(index_dir), "index", str(folder), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["remove"], plan["skip"]) == ([], [reason])
    assert plan["keep_unread"] == [f"2024/{path.name}" for path in seeds[1:3]]
    info = rag.build_index(folder, settings=settings, progress=False)
    assert (info.articles, info.removed, info.skipped) == (3, 0, [reason])
    assert read_catalog(index_dir)[1] == before
    assert read_catalog(index_dir)[0]["injection_rules"] == "older rules"  # the kept ones were not judged

    monkeypatch.undo()
    info = rag.build_index(folder, settings=settings, progress=False)
    assert (info.articles, info.embedded, info.removed, info.skipped) == (3, 0, 0, [])
    assert read_catalog(index_dir)[0]["injection_rules"] == INJECTION_RULES


def test_a_sync_reads_only_the_files_whose_stat_changed(tmp_path, monkeypatch):
    """Every sync hashed every file of the library (each upload in the web app: some 7 s over
    150,000 files, extrapolated from the BBC archive's 2,224). A file whose size, times and inode
    are as they were when it was hashed, a second or more after its last change, keeps its hash;
    one edited, even to the same size with its modification time put back, is read again (its
    change time moved)."""
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    folder.mkdir()
    seeds = sorted(SEEDS.iterdir())
    for path in seeds[:3]:
        shutil.copy(path, folder)
    time.sleep(1.1)  # settled before they are first hashed
    settings = rag.load_settings(index_dir=index_dir)
    rag.build_index(folder, settings=settings, progress=False)
    hashed = []
    real_hash = rag.sync._file_hash
    monkeypatch.setattr(rag.sync, "_file_hash", lambda path, *rest: hashed.append(path.name) or real_hash(path, *rest))

    info = rag.build_index(folder, settings=settings, progress=False)
    assert (hashed, info.embedded, info.articles) == ([], 0, 3)

    edited = folder / seeds[0].name
    before = edited.stat()
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text.replace("Istanbul", "Istanbol", 1), encoding="utf-8")  # the same size
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    shutil.copy(seeds[3], folder)
    info = rag.build_index(folder, settings=settings, progress=False)
    assert sorted(hashed) == sorted([seeds[0].name, seeds[3].name])
    assert (info.embedded, info.articles) == (2, 4)
    assert any("Istanbol" in c.text for c in _chunks(index_dir, settings))

    hashed.clear()
    (folder / seeds[1].name).unlink()
    info = rag.build_index(folder, settings=settings, progress=False)
    # The two just written are read again until they have settled; the removed one is forgotten.
    assert sorted(hashed) == sorted([seeds[0].name, seeds[3].name]) and info.removed == 1
    with sqlite3.connect(index_dir / DATABASE) as db:
        assert {f for f, in db.execute("SELECT file FROM file_stats")} == {seeds[i].name for i in (0, 2, 3)}


def test_an_index_from_before_the_file_stats_is_synced_without_reading_it_again(tmp_path):
    """An index written before the file_stats table (session 23) keeps its articles: the next
    sync hashes the files, embeds nothing, and records their stats. A failed read of the missing
    table must not make the whole index look unusable, which would embed the library anew."""
    folder, index_dir, settings = _two_seeds_indexed(tmp_path)
    _sql(index_dir, "DROP TABLE file_stats")

    info = rag.build_index(folder, settings=settings, progress=False)
    assert (info.embedded, info.removed, info.articles) == (0, 0, 2)
    with sqlite3.connect(index_dir / DATABASE) as db:
        assert db.execute("SELECT count(*) FROM file_stats").fetchone()[0] == 2


def test_a_sync_lists_its_folder_once(tmp_path, monkeypatch):
    """It listed it twice, before the model loaded (to refuse a missing folder early) and again
    for its plan: twice the work on a large archive, and two listings that may disagree."""
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEEDS / ISTANBUL, folder)
    listed = []

    def listing(path):
        listed.append(path)
        return real_listing(path)

    real_listing = rag.sync.article_files
    monkeypatch.setattr(rag.sync, "article_files", listing)
    rag.build_index(folder, tmp_path / "index", settings=rag.load_settings(), progress=False)
    assert listed == [folder]


def _two_seeds_indexed(tmp_path):
    """A folder of two seed articles and its index: (folder, index folder, settings)."""
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    folder.mkdir()
    for path in sorted(SEEDS.iterdir())[:2]:
        shutil.copy(path, folder)
    settings = rag.load_settings(index_dir=index_dir)
    rag.build_index(folder, settings=settings, progress=False)
    return folder, index_dir, settings


def test_a_dry_run_skips_what_a_sync_skips_and_removes_what_it_removes(tmp_path, capsys):
    """A link, a pipe, a file of another type and one whose name is not UTF-8 were listed as
    "would add", and an indexed file that became a link as "unchanged" or "would change",
    although a sync skips them (and removes what was indexed from one)."""
    from rag.cli import main

    folder, index_dir, settings = _two_seeds_indexed(tmp_path)
    (folder / "link.txt").symlink_to(SEEDS / ISTANBUL)
    os.mkfifo(folder / "pipe.txt")  # hashing it must not block
    (folder / "notes.odt").write_text("Meeting notes", encoding="utf-8")
    (folder / os.fsdecode(b"caf\xe9.txt")).write_text("Talks resumed.", encoding="utf-8")
    first = sorted(folder.iterdir())[0]
    first.unlink()
    first.symlink_to(SEEDS / first.name)  # indexed as a file, a link now
    refused = [f"{first.name}: a symbolic link: only files inside the library folder are read (copy the article "
               "in instead)",
               "caf\\xe9.txt: its name is not UTF-8 text; rename the file",
               "link.txt: a symbolic link: only files inside the library folder are read (copy the article in instead)",
               f"notes.odt: unsupported file type .odt; use {', '.join(SUPPORTED_SUFFIXES)}",
               "pipe.txt: not a regular file (a pipe, socket or device): not read"]
    assert main(["--index-dir", str(index_dir), "index", str(folder), "--dry-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:-1] == [*(f"would skip {reason}" for reason in refused), f"would remove {first.name}"]
    assert printed[-1].startswith("would add 0, change 0, remove 1, skip 5 and leave 1 unchanged")
    assert main(["--index-dir", str(index_dir), "index", str(folder), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["add"], plan["change"], plan["remove"], plan["skip"]) == ([], [], [first.name], refused)

    info = rag.build_index(folder, settings=settings, progress=False)
    assert (info.skipped, info.removed, info.articles) == (refused, 1, 1)


def test_a_dry_run_reads_new_and_changed_files_and_skips_what_the_sync_refuses_once_it_reads_them(
        tmp_path, capsys, monkeypatch):
    """An empty file, binary junk, a file of page furniture only and a dump's row without text
    were listed as "would add", and an indexed file emptied as "would change", although the sync
    skips them once it reads them (and removes what was indexed from the emptied one)."""
    from rag.cli import main

    folder, index_dir, settings = _two_seeds_indexed(tmp_path)
    emptied = sorted(folder.iterdir())[0]
    emptied.write_text("")
    (folder / "cod.txt").write_text("Cod quota agreed\n\nNorway and Iceland agreed it.\n", encoding="utf-8")
    (folder / "dump.csv").write_text("title,text\nHake quota,Norway agreed a hake quota.\nEmpty row,\n",
                                     encoding="utf-8")
    (folder / "empty.txt").write_text("")
    (folder / "furniture.txt").write_text("9 hours ago\nContact us\n", encoding="utf-8")
    (folder / "junk.txt").write_bytes(b"\x89PNG\x00\x00\x01binary")
    skipped = ["dump.csv, row 2: no text", "empty.txt: empty file",
               "furniture.txt: no article text (only page furniture such as credits or links)",
               "junk.txt: not a text file (it contains NUL bytes)", f"{emptied.name}: empty file"]

    def no_embedding(*_):
        raise AssertionError("a dry run embeds nothing")

    with monkeypatch.context() as dry:
        dry.setattr(Embedder, "embed", no_embedding)
        assert main(["--index-dir", str(index_dir), "index", str(folder), "--dry-run"]) == 0
        printed = capsys.readouterr().out.splitlines()
        assert printed[:-1] == ["would add cod.txt", "would add dump.csv", *(f"would skip {s}" for s in skipped),
                                f"would remove {emptied.name}"]
        assert printed[-1].startswith("would add 2, change 0, remove 1, skip 5 and leave 1 unchanged")
        assert main(["--index-dir", str(index_dir), "index", str(folder), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["add"], plan["change"], plan["remove"]) == (["cod.txt", "dump.csv"], [], [emptied.name])

    info = rag.build_index(folder, settings=settings, progress=False)
    assert info.skipped == plan["skip"] == skipped  # the same reasons, from the same function
    assert (info.removed, info.articles) == (1, 3)


def test_an_index_of_another_version_of_the_database_is_rebuilt_by_rag_index(settings, tmp_path):
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    with sqlite3.connect(index_dir / DATABASE) as db:  # tables with other columns, as a later format might have
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('format', '\"rag-news-index\"'), ('version', '99')")
        db.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, source TEXT)")
    with pytest.raises(rag.IndexUnusableError, match="rag index"):
        load_index(index_dir, settings.embedding_model)
    rag.build_index(SEEDS, index_dir, settings=settings, progress=False)
    stored = load_index(index_dir, settings.embedding_model)
    assert stored.meta["version"] == VERSION and len(stored.articles) == 5
