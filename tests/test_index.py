"""The on-disk index: round trip, stable ids, refusals, and nothing lost on a failed build."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rag
from conftest import ISTANBUL, SEEDS
from rag.embedding import load_embedder
from rag.index import load_index


def test_round_trip_keeps_every_chunk_and_finds_each_by_its_own_text(seed_index, settings):
    stored = load_index(seed_index, settings.embedding_model)
    manifest = stored.manifest
    assert manifest["format"] == "rag-news-index" and manifest["version"] == 1
    assert manifest["embedding_model"] == "all-MiniLM-L6-v2" and manifest["dimension"] == 384
    assert sorted(a["source"] for a in manifest["articles"]) == sorted(p.name for p in SEEDS.iterdir())
    assert sum(a["chunks"] for a in manifest["articles"]) == len(stored.chunks) == stored.vectors.ntotal
    embedder = load_embedder(settings.embedding_model)
    for chunk in stored.chunks[:: max(1, len(stored.chunks) // 5)]:
        best = stored.search(embedder.embed([f"{chunk.title}\n{chunk.text}"])[0], 1)[0]
        assert best.chunk.id == chunk.id and best.score == pytest.approx(1.0, abs=1e-4)


def test_offsets_point_at_the_quoted_text_in_the_source_file(seed_index, settings):
    for chunk in load_index(seed_index, settings.embedding_model).chunks:
        assert (SEEDS / chunk.source).read_text(encoding="utf-8")[chunk.start:chunk.end] == chunk.text


def test_reindexing_the_same_files_gives_the_same_chunk_ids(seed_index, settings, tmp_path):
    rag.build_index(SEEDS, tmp_path / "again", settings=settings, progress=False)
    first = [c.id for c in load_index(seed_index, settings.embedding_model).chunks]
    second = [c.id for c in load_index(tmp_path / "again", settings.embedding_model).chunks]
    assert first == second and len(set(first)) == len(first)


@pytest.fixture
def index_copy(seed_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    return copy


def test_index_built_with_another_model_is_refused(index_copy, settings):
    manifest = json.loads((index_copy / "manifest.json").read_text())
    manifest["embedding_model"] = "all-mpnet-base-v2"
    (index_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(rag.IndexUnusableError, match="built with embedding model 'all-mpnet-base-v2'"):
        load_index(index_copy, settings.embedding_model)


@pytest.mark.parametrize("damage", ["truncate vectors", "flip a vector byte", "edit a chunk", "drop chunks",
                                    "garble manifest"])
def test_damaged_index_is_refused_with_the_fix(index_copy, settings, damage):
    manifest = json.loads((index_copy / "manifest.json").read_text())
    vectors, chunks = index_copy / manifest["vectors_file"], index_copy / manifest["chunks_file"]
    if damage == "truncate vectors":
        vectors.write_bytes(vectors.read_bytes()[:100])
    elif damage == "flip a vector byte":  # same size, still loads: once scored a hit 3e36
        data = bytearray(vectors.read_bytes())
        data[len(data) // 2] ^= 0x7F
        vectors.write_bytes(bytes(data))
    elif damage == "edit a chunk":  # valid JSON, wrong words for its vector
        chunks.write_text(chunks.read_text(encoding="utf-8").replace("Istanbul", "Helsinki"), encoding="utf-8")
    elif damage == "drop chunks":
        chunks.write_text("")
    else:
        (index_copy / "manifest.json").write_text("{not json")
    with pytest.raises(rag.IndexUnusableError, match="rag index"):
        load_index(index_copy, settings.embedding_model)


def test_failed_rebuild_leaves_the_existing_index_intact(index_copy, settings, tmp_path):
    before = {path.name: path.read_bytes() for path in index_copy.iterdir()}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(rag.BadInputError):
        rag.build_index(empty, index_copy, settings=settings, progress=False)
    assert {path.name: path.read_bytes() for path in index_copy.iterdir()} == before
    assert load_index(index_copy, settings.embedding_model).chunks


def test_a_reader_of_the_old_index_survives_a_rebuild_and_the_next_load_sees_the_new(
        index_copy, settings, tmp_path):
    old = load_index(index_copy, settings.embedding_model)
    source = tmp_path / "one"
    source.mkdir()
    shutil.copy(SEEDS / ISTANBUL, source)
    rag.build_index(source, index_copy, settings=settings, progress=False)
    # The old generation's files are kept for readers that opened the previous manifest.
    assert (index_copy / old.manifest["chunks_file"]).exists()
    new = load_index(index_copy, settings.embedding_model)
    assert {c.source for c in new.chunks} == {ISTANBUL} and len(old.chunks) > len(new.chunks)
    assert [a["added"] for a in new.manifest["articles"]] == [
        a["added"] for a in old.manifest["articles"] if a["source"] == ISTANBUL]
    rag.build_index(source, index_copy, settings=settings, progress=False)
    assert not (index_copy / old.manifest["chunks_file"]).exists()  # two builds later it is gone


def test_unreadable_files_are_skipped_by_name_and_the_rest_indexed(settings, tmp_path):
    source = tmp_path / "articles"
    source.mkdir()
    shutil.copy(SEEDS / ISTANBUL, source)
    (source / "latin1.txt").write_bytes("Caf\xe9 talks in Ankara were held.".encode("latin-1"))
    (source / "image.txt").write_bytes(b"\x89PNG\x00\x00\x01binary")
    info = rag.build_index(source, tmp_path / "index", settings=settings, progress=False)
    assert info.articles == 1
    assert sorted(s.split(":")[0] for s in info.skipped) == ["image.txt", "latin1.txt"]


# A build that pauses just before its commit until told to go on, then fails it: run as a
# separate process, as a UI would be beside a shell `rag index`.
_PAUSED_BUILD = """
import os, sys, time
from pathlib import Path
import rag, rag.index

real_replace = os.replace
paused, go = Path(sys.argv[3]), Path(sys.argv[4])

def paused_then_failing(src, dst):
    if str(dst).endswith("manifest.json"):
        paused.touch()
        deadline = time.monotonic() + 240
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        raise OSError(28, "No space left on device")
    real_replace(src, dst)

rag.index.os.replace = paused_then_failing
try:
    rag.build_index(sys.argv[1], sys.argv[2], progress=False)
except OSError:
    sys.exit(3)
"""


def _waits_for_a_lock(pid: int) -> bool:
    # Linux lists a process blocked on a lock as "N: -> FLOCK ... PID ..." in /proc/locks.
    return any(line.split()[1] == "->" and str(pid) in line.split()
               for line in Path("/proc/locks").read_text().splitlines())


def test_two_writers_in_two_processes_never_break_the_index(tmp_path):
    """A failed commit used to clean up the other build's live files (`rag ask`: index damaged)."""
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    paused, go = tmp_path / "paused", tmp_path / "go"
    shutil.copytree(SEEDS, folder)
    first = subprocess.Popen([sys.executable, "-c", _PAUSED_BUILD, str(folder), str(index_dir), str(paused), str(go)],
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not paused.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert paused.exists(), first.stderr.read() if first.poll() is not None else "the first build never paused"
    second = subprocess.Popen([sys.executable, "-m", "rag.cli", "--index-dir", str(index_dir), "index", str(folder)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The second writer either waits for the first (the lock) or, without one, commits meanwhile.
    deadline = time.monotonic() + 240
    while second.poll() is None and not _waits_for_a_lock(second.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    go.touch()
    assert first.wait(60) == 3  # its commit failed, as injected
    assert second.wait(240) == 0, second.stderr.read()
    stored = load_index(index_dir, "all-MiniLM-L6-v2")
    assert stored.vectors.ntotal == len(stored.chunks) > 0
    names = {p.name for p in index_dir.iterdir()}
    assert names == {"manifest.json", ".write.lock", stored.manifest["chunks_file"], stored.manifest["vectors_file"]}
