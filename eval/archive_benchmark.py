"""Speed at archive size: incremental sync, retrieval, and the vector and keyword searches at
sizes this machine cannot embed for real.

    .venv/bin/python eval/archive_benchmark.py [--squad ../shared/data/squad2-dev-part.json]
                                               [--sizes 10000,100000,1000000]

Prints figures, not verdicts, in four parts (more with --only dump, many, library; --only runs one part):
1. sync: a folder of 2,000 articles (the size of a real archive that took 12 minutes to index
   before sync was incremental), each three SQuAD paragraphs drawn at random (real text, made-up
   articles), plus the seeds: indexed from scratch, re-synced unchanged, then with one article
   added, one changed and one removed; retrieval time per question over it.
2. vectors: exact search and the IVF (rag.vectors) at each size, with recall of the exact top 20
   for several nprobe. Real passage vectors cannot be embedded by the million here, so the
   vectors are the real ones (the folder's passages) plus Gaussian noise: a synthetic archive of
   near-duplicates of real news passages, queried with the SQuAD questions.
3. keywords: FTS5 (rag.index.StoredIndex.keyword_search) over synthetic passages of real sentences, shuffled.
4. retrieval: the whole retrieve() (dense, keywords, fusion, filters) over synthetic indexes of
   those sizes written through rag.index (passages of 5 real sentences, in articles of 1,000
   passages; vectors as in part 2), with the process's peak resident memory.
5. dump (--only dump): the same 2,000 articles as the rows of one CSV file: indexed from
   scratch, then with one row appended, one changed, one removed.
6. many (--only many): an archive of many articles, each with its own words (--many, 150,000 by
   default, made-up rows added to a copy of the seed index's database: each uses about 190 words
   of the SQuAD paragraphs and 4 made-up ones, so the distinct words grow with the archive as a
   real one's names do): the load after a commit, respelling misspelt questions (the search text
   of rag.retrieval), and one article's record. Writing the rows takes about 10 minutes.
7. library (--only library): the Library's search (rag.index.find_records) over an archive of
   --library articles of 5 passages of real sentences each (200,000 by default: a million
   passages, written through rag.index in one transaction, about 45 minutes and 8.8 GB here;
   --keep DIR keeps it for another run), each search three times; as root, the first from a
   cold page cache too.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import rag
from rag import vectors as vector_file
from rag.config import PROJECT_DIR, load_settings
from rag.embedding import load_embedder, passage_text
from rag.evaluation.squad import load_squad
from rag.index import _SCHEMA, StoredIndex, load_index
from rag.retrieval import retrieve
from rag.text import sentences


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def sync_figures(folder: Path, index_dir: Path, questions: list[str]) -> None:
    settings = load_settings()
    load_embedder(settings.embedding_model, settings.models_dir)  # loading is not syncing
    info, seconds = timed(lambda: rag.build_index(folder, index_dir, settings=settings, progress=False))
    print(f"from scratch: {info.articles} articles, {info.chunks} passages in {seconds:.1f} s "
          f"({info.articles / seconds:.1f} articles/s, {info.chunks / seconds:.0f} passages/s)")
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    texts = [passage_text(c) for c in load_index(index_dir, settings.embedding_model).all_chunks()]
    sample = random.Random(0).sample(texts, min(2000, len(texts)))
    _, raw = timed(lambda: embedder.model.encode(sample, batch_size=32, normalize_embeddings=True))
    print(f"raw SentenceTransformer.encode of {len(sample)} of the same passages: {len(sample) / raw:.0f} passages/s; "
          f"the build ran at {info.chunks / seconds / (len(sample) / raw):.2f} of that")
    _, seconds = timed(lambda: rag.build_index(folder, index_dir, settings=settings, progress=False))
    print(f"unchanged re-sync (every file's stat compared, nothing read): {seconds:.2f} s")
    first_seed = sorted((PROJECT_DIR / "seeds").iterdir())[0]
    (folder / "zz_added.txt").write_text(first_seed.read_text(encoding="utf-8").replace("Astana", "Almaty"),
                                         encoding="utf-8")
    info, seconds = timed(lambda: rag.build_index(folder, index_dir, settings=settings, progress=False))
    print(f"one article added: {seconds:.2f} s ({info.embedded} embedded)")
    changed = sorted(folder.glob("*.txt"))[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    info, seconds = timed(lambda: rag.build_index(folder, index_dir, settings=settings, progress=False))
    print(f"one article changed: {seconds:.2f} s ({info.embedded} embedded)")
    (folder / "zz_added.txt").unlink()
    info, seconds = timed(lambda: rag.build_index(folder, index_dir, settings=settings, progress=False))
    print(f"one article removed: {seconds:.2f} s ({info.removed} removed)")

    index = load_index(index_dir, settings.embedding_model)
    retrieve(questions[0], index, embedder, settings.top_k)
    times = [timed(lambda: retrieve(q, index, embedder, settings.top_k))[1] for q in questions]
    print(f"retrieval over {index.size} passages: median {statistics.median(times) * 1000:.0f} ms, "
          f"90th percentile {sorted(times)[int(0.9 * len(times))] * 1000:.0f} ms ({len(times)} questions)")


def dump_figures(texts: list[str], index_dir: Path, folder: Path) -> None:
    import csv

    settings = load_settings()
    load_embedder(settings.embedding_model, settings.models_dir)
    dump = folder / "archive.csv"

    def write(rows: list[str]) -> None:
        with dump.open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(["title", "date", "text"])
            out.writerows([f"Article {i}", "2024-01-01", text] for i, text in enumerate(rows))

    rows = list(texts)
    write(rows)
    info, seconds = timed(lambda: rag.build_index(folder, index_dir, settings=settings, progress=False))
    print(f"from scratch: {info.articles} rows, {info.chunks} passages in {seconds:.1f} s "
          f"({info.chunks / seconds:.0f} passages/s)")
    for what, edit in [("appended", lambda: rows.append(rows[0].replace("the", "a"))),
                       ("changed", lambda: rows.__setitem__(1, rows[1] + " One more sentence.")),
                       ("removed (the last)", rows.pop)]:
        edit()
        write(rows)
        info, seconds = timed(lambda: rag.build_index(folder, index_dir, settings=settings, progress=False))
        print(f"one row {what}: {seconds:.2f} s ({info.embedded} embedded, {info.removed} removed)")


def vector_figures(real: np.ndarray, queries: np.ndarray, sizes: list[int]) -> None:
    saved = vector_file.ANN_FROM
    try:
        _vector_figures(real, queries, sizes)
    finally:
        vector_file.ANN_FROM = saved


def _vector_figures(real: np.ndarray, queries: np.ndarray, sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    for n in sizes:
        base = real[rng.integers(0, len(real), n)]
        synthetic = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
        synthetic /= np.linalg.norm(synthetic, axis=1, keepdims=True)
        ids = np.arange(n)
        exact = vector_file.empty(real.shape[1])
        vector_file.add(exact, ids, synthetic)
        # One question at a time, as retrieval asks: a batch would share the work.
        started = time.perf_counter()
        truth = [exact.search(q[None, :], 20)[1][0] for q in queries]
        flat_ms = (time.perf_counter() - started) / len(queries) * 1000
        print(f"{n:>9,} vectors: exact {flat_ms:.1f} ms/question", end="", flush=True)
        ivf, train_seconds = timed(lambda: vector_file.fitted(_forced_ann(exact), ids.tolist))
        figures = []
        for nprobe in (4, 8, 16, 32, 64):
            ivf.nprobe = nprobe
            started = time.perf_counter()
            found = [ivf.search(q[None, :], 20)[1][0] for q in queries]
            ms = (time.perf_counter() - started) / len(queries) * 1000
            recall = np.mean([len(set(f) & set(t)) / 20 for f, t in zip(found, truth)])
            figures.append(f"nprobe {nprobe}: {ms:.2f} ms, recall {recall:.3f}")
        print(f"; IVF of {ivf.nlist} lists trained and filled in {train_seconds:.1f} s; " + "; ".join(figures))


def _forced_ann(index):
    """`index` as vector_file.fitted sees it when ANN_FROM is no higher than its size."""
    vector_file.ANN_FROM = min(vector_file.ANN_FROM, index.ntotal)
    return index


class _Sized:
    def __init__(self, n: int):
        self.ntotal = n


def keyword_figures(texts: list[str], questions: list[str], sizes: list[int]) -> None:
    pool = [s for text in texts for s in sentences(text)]
    rng = random.Random(0)
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = sqlite3.connect(Path(tmp) / "keywords.sqlite", isolation_level=None, check_same_thread=False)
            db.executescript(_SCHEMA)
            db.execute("BEGIN")
            db.execute("INSERT INTO articles (source, title, dates, pages, content_hash, file, addresses_assistant, "
                       "file_hash, added) VALUES ('a', 'a', '[]', '[]', '', 'a', 0, '', '')")
            started = time.perf_counter()
            db.executemany("INSERT INTO chunks (key, article_id, position, start, end, text) VALUES (?, 1, 0, 0, 0, ?)",
                           ((str(i), " ".join(rng.sample(pool, 5))) for i in range(n)))
            db.execute("COMMIT")
            build = time.perf_counter() - started
            index = StoredIndex(path=Path(tmp), meta={}, articles={}, vectors=_Sized(n),
                                last_row=n, _db=db, _lock=threading.Lock())
            index.keyword_search(questions[0], 20)
            times = [timed(lambda: index.keyword_search(q, 20))[1] for q in questions]
            size_mb = (Path(tmp) / "keywords.sqlite").stat().st_size / 1e6
            print(f"{n:>9,} passages: FTS5 built in {build:.0f} s ({size_mb:.0f} MB); keyword search median "
                  f"{statistics.median(times) * 1000:.1f} ms, 90th percentile "
                  f"{sorted(times)[int(0.9 * len(times))] * 1000:.1f} ms")
            db.close()


def made_up(a: int, source: str, passages: list[str]) -> tuple:
    """(Article, its file hash, its chunks) for made-up article `a` of these passages, as
    Writer.put takes them before the vectors."""
    from rag.schema import Article, Chunk

    text, chunks, offset = "\n\n".join(passages), [], 0
    for position, passage in enumerate(passages):
        chunks.append(Chunk(id=f"{a}-{position}", source=source, title=f"Article {a}", text=passage,
                            start=offset, end=offset + len(passage), position=position))
        offset += len(passage) + 2
    article = Article(source=source, path="", text=text, spans=[(0, len(text))], title=f"Article {a}",
                      content_hash=str(a))
    return article, str(a), chunks


def retrieve_figures(real: np.ndarray, texts: list[str], questions: list[str], sizes: list[int]) -> None:
    import resource

    from rag.index import Build, writing

    settings = load_settings()
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    pool = [s for text in texts for s in sentences(text)]
    rng, noise = random.Random(0), np.random.default_rng(0)
    per_article = 1000

    def put(writer, a: int, passages: int) -> None:
        """Article `a`: passages of 5 real sentences, vectors of real passages plus noise."""
        vectors = real[noise.integers(0, len(real), passages)]
        vectors = vectors + noise.normal(0, 0.02, vectors.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        writer.put(*made_up(a, f"a{a}.txt", [" ".join(rng.sample(pool, 5)) for _ in range(passages)]), vectors)

    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="rag-retrieve-") as tmp:
            build = Build(settings.embedding_model, real.shape[1], settings.chunk_tokens, settings.chunk_overlap)
            started = time.perf_counter()
            with writing(Path(tmp), build) as writer:
                for a in range(n // per_article):
                    put(writer, a, per_article)
            written = time.perf_counter() - started
            index, loading = timed(lambda: load_index(Path(tmp), settings.embedding_model))
            retrieve(questions[0], index, embedder, settings.top_k)
            times = sorted(timed(lambda: retrieve(q, index, embedder, settings.top_k))[1] for q in questions)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
            kind = "IVF" if vector_file.is_approximate(index.vectors.file) else "exact"
            print(f"{n:>9,} passages ({kind}): written in {written:.0f} s, loaded in {loading:.1f} s; "
                  f"retrieve() p50 {times[len(times) // 2] * 1000:.0f} ms, "
                  f"p95 {times[int(0.95 * len(times))] * 1000:.0f} ms; peak resident memory so far {rss:.1f} GB")
            # What a user adding one news article to the archive waits for: its commit (embedding
            # aside), then the next question's load of the new generation.
            commits, loads = [], []
            for run in range(4):
                started = time.perf_counter()
                with writing(Path(tmp), build) as writer:
                    put(writer, n // per_article + run, 6)
                commits.append(time.perf_counter() - started)
                loads.append(timed(lambda: load_index(Path(tmp), settings.embedding_model))[1])
            print(f"{'':>9}  one article of 6 passages added, four times: commits "
                  f"{', '.join(f'{s:.2f}' for s in commits)} s; next loads {', '.join(f'{s:.2f}' for s in loads)} s")


def many_figures(texts: list[str], many: int) -> None:
    from rag.index import DATABASE
    from rag.retrieval import search_text
    from rag.text import WORD

    settings = load_settings()
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    vocabulary = sorted({word.lower() for text in texts for word in WORD.findall(text)})
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="rag-many-") as tmp:
        index_dir = Path(tmp) / "index"
        shutil.copytree(settings.index_dir, index_dir)
        started = time.perf_counter()
        with sqlite3.connect(index_dir / DATABASE) as db:
            columns = [row[1] for row in db.execute("PRAGMA table_info(articles)")]
            template = db.execute("SELECT * FROM articles LIMIT 1").fetchone()
            first = db.execute("SELECT max(id) FROM articles").fetchone()[0] + 1
            for start in range(first, first + many, 5000):
                rows, words = [], []
                for article in range(start, min(start + 5000, first + many)):
                    row = dict(zip(columns, template), id=article, source=f"made-up/{article}.txt",
                               content_hash=f"made-up {article}")
                    rows.append([row[column] for column in columns])
                    used = set(rng.sample(vocabulary, 190)) | {
                        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(5, 10))) for _ in range(4)}
                    words += [(article, word, word[:4]) for word in used]
                db.executemany(f"INSERT INTO articles VALUES ({', '.join('?' * len(columns))})", rows)
                db.executemany("INSERT INTO words (article_id, word, key) VALUES (?, ?, ?)", words)
            distinct = db.execute("SELECT count(*) FROM (SELECT DISTINCT word FROM words)").fetchone()[0]
            rows = db.execute("SELECT count(*) FROM words").fetchone()[0]
        print(f"{many:,} made-up articles added to the seed index in {time.perf_counter() - started:.0f} s: "
              f"{rows:,} rows of words, {distinct:,} distinct")
        load_index(index_dir, settings.embedding_model)  # the vector file read and hashed once

        def committed() -> None:  # a commit, as far as readers can tell: the next load reads anew
            with sqlite3.connect(index_dir / DATABASE) as db:
                generation = int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
                db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation + 1),))

        loads = []
        for _ in range(4):
            committed()
            index, seconds = timed(lambda: load_index(index_dir, settings.embedding_model))
            loads.append(seconds)
        print(f"next load after a commit, four times: {', '.join(f'{s:.2f}' for s in loads)} s")
        search_text("the talks", None, index, embedder)  # what a process loads once (a dictionary)
        for question in ("how many prisners did they agree to swap in istambul",
                         "wat did erdgan say in moskow about the negotations", "What did Putin say about the talks?"):
            text, seconds = timed(lambda: search_text(question, None, index, embedder))
            print(f"search text in {seconds * 1000:.0f} ms: {text}")
        _, seconds = timed(lambda: index.articles.get(f"made-up/{first}.txt"))
        print(f"one article's record in {seconds * 1000:.2f} ms")


def library_figures(texts: list[str], articles: int, keep: Path | None) -> None:
    import os

    from rag.index import Build, find_records, writing

    settings = load_settings()
    pool = [s for text in texts for s in sentences(text)]
    rng, noise = random.Random(0), np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="rag-library-") as tmp:
        index_dir = keep or Path(tmp)
        if not (index_dir / "index.sqlite").is_file():
            build = Build(settings.embedding_model, 384, settings.chunk_tokens, settings.chunk_overlap)
            started = time.perf_counter()
            with writing(index_dir, build) as writer:
                for a in range(articles):
                    passages = [" ".join(rng.sample(pool, 5)) for _ in range(5)]
                    vectors = noise.normal(0, 1, (len(passages), 384)).astype(np.float32)
                    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                    writer.put(*made_up(a, f"y{a % 20}/a{a}.txt", passages), vectors)
            print(f"{articles:,} articles of 5 passages written in {time.perf_counter() - started:.0f} s")
        for text in ("", "the", "government", "talks", "article 1234", "zzzq"):
            if os.geteuid() == 0:  # as the first search after a restart reads it
                os.sync()
                Path("/proc/sys/vm/drop_caches").write_text("3")
            times = []
            for _ in range(3):
                (_, total), seconds = timed(lambda: find_records(index_dir, text, 200))
                times.append(seconds)
            print(f"search {text!r}: {total:,} articles match; {', '.join(f'{s:.2f}' for s in times)} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=PROJECT_DIR.parent / "shared" / "data" / "squad2-dev-part.json")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--many", type=int, default=150_000, help="made-up articles for part 6")
    parser.add_argument("--library", type=int, default=200_000, help="articles for part 7")
    parser.add_argument("--keep", type=Path, help="part 7: the folder to write its archive to, or read it from")
    parser.add_argument("--only", choices=["sync", "keywords", "retrieve", "dump", "many", "library"],
                        help="run one part (with part 1 for retrieve)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    squad = load_squad(args.squad)
    questions = [q.question for q in random.Random(0).sample(squad.questions, args.questions)]
    if args.only == "keywords":
        keyword_figures(list(squad.documents.values()), questions, sizes)
        return
    if args.only == "library":
        print("== 7. the Library's search over an archive")
        library_figures(list(squad.documents.values()), args.library, args.keep)
        return
    if args.only == "many":
        print("== 6. an archive of many articles")
        many_figures(list(squad.documents.values()), args.many)
        return
    with tempfile.TemporaryDirectory(prefix="rag-archive-") as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        paragraphs = list(squad.documents.values())
        draw = random.Random(0)
        texts = ["\n\n".join(draw.sample(paragraphs, 3)) for _ in range(args.articles)]
        if args.only == "dump":
            print("== 5. one CSV dump of the same articles")
            dump_figures(texts, Path(tmp) / "index", folder)
            return
        for i, text in enumerate(texts):
            (folder / f"article-{i:05d}.txt").write_text(f"Article {i}\n\n{text}", encoding="utf-8")
        for path in (PROJECT_DIR / "seeds").iterdir():
            shutil.copy(path, folder)
        print("== 1. sync and retrieval (real passages)")
        sync_figures(folder, Path(tmp) / "index", questions)
        if args.only == "sync":
            return
        settings = load_settings()
        index = load_index(Path(tmp) / "index", settings.embedding_model)
        real = index.vectors_of(index.row_ids())
    if args.only == "retrieve":
        print("== 4. whole retrieve() (synthetic indexes)")
        retrieve_figures(real, list(squad.documents.values()), questions, sizes)
        return
    # As questions, not passages: with nomic joined, a question reads with its query prefix.
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    queries = np.stack([embedder.embed_query(question) for question in questions])
    print(f"== 2. vectors (synthetic: {len(real)} real passage vectors plus noise; {len(queries)} SQuAD questions)")
    vector_figures(real, queries, sizes)
    print("== 3. keywords (synthetic passages of 5 real sentences each)")
    keyword_figures(list(squad.documents.values()), questions, sizes)
    print("== 4. whole retrieve() (synthetic indexes)")
    retrieve_figures(real, list(squad.documents.values()), questions, sizes)


if __name__ == "__main__":
    main()
