"""The vector file: FAISS over unit-length passage embeddings, keyed by the passages' row ids in
the index database (rag.index), so a passage keeps its vector's id however others come and go.

Exact search (a flat inner-product index) up to ANN_FROM vectors; from there an inverted-file
index (IVF) of sqrt(n) lists, of which a query reads the NPROBE whose centres are closest.
Both support adding and removing by id, so an incremental sync edits the index in place.
Readers search a file as read together with the changes recorded since it was written (Layered).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable

import numpy as np

# Measured with eval/archive_benchmark.py on the 2-core test machine (README, "A news archive"):
# exact search took 0.8 ms a question at 10,000 vectors, 12.7 ms at 100,000 and 123 ms at a
# million. Below 100,000 it is fast enough, and free of recall loss and of a training pass.
ANN_FROM = 100_000
# Lists read per question. Same benchmark, share of the exact top 20 found: 0.998 at 100,000
# vectors (0.95 ms) and 0.996 at a million (3.0 ms); 16 lists lose 1 point at 100,000.
NPROBE = 32
# Training points per list: faiss warns below 39; with 64 per list a million-vector IVF (1,000
# lists) was trained and filled in 11 s on 2 cores.
TRAIN_PER_LIST = 64
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


def search(index, query: np.ndarray, k: int, allowed=None, share: float = 1.0) -> list[tuple[int, float]]:
    """The k nearest (id, cosine), closest first; with `allowed` (a faiss IDSelector), only among
    the ids it selects, which are `share` of the index: an IVF then reads 1/share times NPROBE
    lists (all of them at most), so that a scope of a tenth of the archive meets as many of its
    own vectors as an unscoped search meets of all."""
    import faiss

    k = min(k, index.ntotal)
    if k <= 0:
        return []
    params = None
    if allowed is not None:
        if is_approximate(index):
            ivf = faiss.downcast_index(index)
            lists = min(ivf.nlist, math.ceil(ivf.nprobe / max(share, 1e-9)))
            params = faiss.SearchParametersIVF(sel=allowed, nprobe=lists)
        else:
            params = faiss.SearchParameters(sel=allowed)
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
    return [(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]


def vectors_of(index, ids: list[int]) -> np.ndarray:
    """The stored vectors of ids (rows in the same order)."""
    if not ids:
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_batch(np.asarray(ids, dtype=np.int64))


class Layered:
    """What a reader searches: a vector file as read, which every commit naming it shares (so it is
    never edited), and the changes recorded since it was written: the vectors added, searched
    exactly beside it, and the ids removed, left out of its results. A commit that adds an
    article to a million passages is then read in milliseconds, where reading the file again took
    1.5-5 s and another 1.5 GB of memory per commit (eval/archive_benchmark.py)."""

    def __init__(self, file, added_ids: np.ndarray, added: np.ndarray, removed_ids: np.ndarray):
        import faiss

        self.file, self.d = file, file.d
        self.added = empty(file.d)
        add(self.added, added_ids, added)
        self._added_ids = set(added_ids.tolist())
        self._removed = faiss.IDSelectorBatch(np.asarray(removed_ids, dtype=np.int64)) if len(removed_ids) else None
        # Every id but the removed ones (IDSelectorNot does not own _removed: it is kept here).
        self._kept = faiss.IDSelectorNot(self._removed) if self._removed is not None else None
        self.ntotal = file.ntotal - len(removed_ids) + len(added_ids)

    def search(self, query: np.ndarray, k: int, ids: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k nearest (id, cosine); with `ids`, among those only (a scope's passages)."""
        import faiss

        if ids is None:
            found = search(self.file, query, k, self._kept) + search(self.added, query, k)
        else:
            chosen = faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))
            # IDSelectorAnd does not own its parts: both are held here until the search is done.
            in_file = faiss.IDSelectorAnd(self._kept, chosen) if self._kept is not None else chosen
            found = (search(self.file, query, k, in_file, len(ids) / max(self.ntotal, 1))
                     + search(self.added, query, k, chosen))
        return sorted(found, key=lambda hit: -hit[1])[:k]

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        rows = np.zeros((len(ids), self.d), dtype=np.float32)
        added = np.array([i in self._added_ids for i in ids], dtype=bool)
        rows[added] = vectors_of(self.added, [i for i in ids if i in self._added_ids])
        rows[~added] = vectors_of(self.file, [i for i in ids if i not in self._added_ids])
        return rows


def fitted(index, all_ids: Callable[[], list[int]]):
    """The index to write for its current size: exact below ANN_FROM, an IVF from there, retrained
    when it has outgrown the one it was trained as. `all_ids()` gives every id it holds (asked
    only when the index is rebuilt)."""
    import faiss

    n = index.ntotal
    if n < ANN_FROM and not is_approximate(index):
        return index
    if n >= ANN_FROM and is_approximate(index) and n <= RETRAIN_GROWTH * _trained_size(index):
        return index
    ids = all_ids()
    if n < ANN_FROM:
        rebuilt = empty(index.d)
    else:
        nlist = int(math.sqrt(n))
        rebuilt = faiss.index_factory(index.d, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)  # an IndexIVFFlat
        rebuilt.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
        rebuilt.nprobe = NPROBE
        sample = np.random.default_rng(0).permutation(np.asarray(ids))[: TRAIN_PER_LIST * nlist].tolist()
        rebuilt.train(vectors_of(index, sample))
    add(rebuilt, np.asarray(ids), vectors_of(index, ids))
    return rebuilt


def _trained_size(index) -> int:
    """Vectors an IVF was trained for: its list count was chosen as sqrt(n)."""
    import faiss

    return faiss.downcast_index(index).nlist ** 2


def write(index, path) -> None:
    """OSError when the file cannot be written whole (faiss reports a full disk as RuntimeError)."""
    import faiss

    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:
        reason = re.search(r"\(([^()]+)\)\s*$", str(exc))
        raise OSError(f"writing {Path(path).name} failed: {reason.group(1) if reason else exc}") from None


def read(path):
    import faiss

    index = faiss.read_index(str(path))
    if is_approximate(index):
        faiss.downcast_index(index).nprobe = NPROBE
    return index
