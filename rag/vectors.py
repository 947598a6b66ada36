"""The vector file: FAISS over unit-length passage embeddings, keyed by the passages' row ids in
the index database (rag.index), so a passage keeps its vector's id however others come and go.

Exact search (a flat inner-product index) up to ANN_FROM vectors; from there an inverted-file
index (IVF), which compares the query with NPROBE of its NLIST cluster centres' lists only.
Both support adding and removing by id, so an incremental sync edits the index in place.
"""

from __future__ import annotations

import math

import numpy as np

# Measured with eval/archive_benchmark.py on the 2-core test machine (see the README, Archive):
# exact search costs about 0.1 ms per thousand vectors, so 11 ms at 100,000 and 110 ms at a
# million; the IVF answers in a few ms at a million. Below 100,000 exact search is both fast
# enough and free of recall loss and of the training pass.
ANN_FROM = 100_000
# Lists read per query: with NLIST = 4 * sqrt(n) lists, the share of the true top 20 found was
# measured in eval/archive_benchmark.py (README, Archive).
NPROBE = 32
# A trained IVF is retrained from all its vectors once it has grown this much beyond the size
# it was trained on: its cluster centres otherwise stop describing the archive.
RETRAIN_GROWTH = 2.0


def empty(dimension: int):
    """An exact index with nothing in it."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def is_approximate(index) -> bool:
    import faiss

    return isinstance(faiss.downcast_index(index), faiss.IndexIVF)


def add(index, ids: np.ndarray, vectors: np.ndarray) -> None:
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))


def remove(index, ids: list[int]) -> None:
    if ids:
        index.remove_ids(np.asarray(ids, dtype=np.int64))


def search(index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k nearest (id, cosine), closest first."""
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k)
    return [(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]


def vectors_of(index, ids: list[int]) -> np.ndarray:
    """The stored vectors of ids (rows in the same order)."""
    if not ids:
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_batch(np.asarray(ids, dtype=np.int64))


def fitted(index, all_ids: list[int]):
    """The index to write for its current size: exact below ANN_FROM, an IVF from there, retrained
    when it has outgrown the one it was trained as. `all_ids` are every id it holds."""
    import faiss

    n = index.ntotal
    if n < ANN_FROM:
        if not is_approximate(index):
            return index
        rebuilt = empty(index.d)
    elif is_approximate(index) and n <= RETRAIN_GROWTH * _trained_size(index):
        return index
    else:
        nlist = int(4 * math.sqrt(n))
        rebuilt = faiss.IndexIVFFlat(faiss.IndexFlatIP(index.d), index.d, nlist, faiss.METRIC_INNER_PRODUCT)
        rebuilt.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
        rebuilt.nprobe = NPROBE
        # faiss samples at most 256 points per list to train; more would only cost time.
        sample = np.random.default_rng(0).permutation(np.asarray(all_ids))[: 256 * nlist].tolist()
        rebuilt.train(vectors_of(index, sample))
    add(rebuilt, np.asarray(all_ids), vectors_of(index, all_ids))
    return rebuilt


def _trained_size(index) -> int:
    """Vectors an IVF was trained for: its list count was chosen as 4 * sqrt(n)."""
    import faiss

    return int((faiss.downcast_index(index).nlist / 4) ** 2)


def write(index, path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read(path):
    import faiss

    index = faiss.read_index(str(path))
    if is_approximate(index):
        faiss.downcast_index(index).nprobe = NPROBE
    return index
