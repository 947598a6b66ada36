"""Embedding passages on a Ray cluster, for an archive too big to embed on one machine.

`embed_on_ray` returns what `load_embedder(name, models_dir).embed(texts)` returns, computed by a
pool of Ray actors that each load the embedder once (Ray Data `map_batches` with a class). Every
node must have this package and the model installed the same way as the machine that calls it
(the weights are read from the node's own site-packages or models_dir, never from a hub).
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import numpy as np

from rag.errors import BadInputError, ModelMissingError
from rag.models import embedding_model_path

INSTALL_HINT = "install it with `pip install 'rag-news[cluster]'` (or `pip install 'ray[data]'`)"
CONNECT_TIMEOUT_S = 5.0  # ray.init waits about 5 minutes on an unreachable address before giving up


class _Embed:
    """One per actor: the model loads once, then embeds every batch the actor is given."""

    def __init__(self, model_name: str, models_dir: Path | None):
        from rag.embedding import load_embedder  # sets HF_HUB_OFFLINE before transformers loads

        self.embedder = load_embedder(model_name, models_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"i": batch["i"], "vector": self.embedder.embed(batch["text"].tolist())}


def embed_on_ray(texts: list[str], model_name: str, models_dir: Path | None, address: str = "auto", *,
                 batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 vectors of `texts`, in their order, embedded by Ray actors.

    address: "auto" joins the cluster in RAY_ADDRESS or the one `ray start` made on this machine,
    else starts Ray here on all cores; "host:6379" (a head node) or "ray://host:10001" (Ray
    Client) joins that cluster. Ray is started only if this process has not initialised it, and
    shut down again at the end if it was started here."""
    ray = _import_ray()
    # Fail here, in one line, rather than in every actor.
    for name in model_name.split("+"):
        embedding_model_path(name, models_dir)
    if not texts:
        from rag.embedding import load_embedder

        return np.zeros((0, load_embedder(model_name, models_dir).dimension), dtype=np.float32)
    started_here = not ray.is_initialized()
    if started_here:
        _init(ray, address)
    try:
        return _embed(ray, texts, model_name, models_dir, batch_size)
    finally:
        if started_here:
            ray.shutdown()


def _embed(ray, texts: list[str], model_name: str, models_dir: Path | None, batch_size: int) -> np.ndarray:
    items = [{"i": i, "text": text} for i, text in enumerate(texts)]
    # One block per batch: Ray's default cuts small inputs into one-row blocks, which costs a
    # task hand-off per row.
    dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // batch_size)))
    # The CPUs present now: nodes an autoscaler adds during the run are not used.
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    vectors = dataset.map_batches(
        _Embed,
        fn_constructor_kwargs={"model_name": model_name, "models_dir": models_dir},
        batch_size=batch_size,
        # One single-threaded actor per core (Ray sets OMP_NUM_THREADS=1 for a 1-CPU actor): a
        # small model gains more from more copies than from more threads per copy.
        num_cpus=1,
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=cpus),
    )
    order, parts = [], []
    try:
        for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            order.append(batch["i"])
            parts.append(batch["vector"])
    except ray.exceptions.RayActorError as exc:
        if not exc.actor_init_failed:
            raise
        # The actor's own traceback ends with the error it raised (a model or package missing on
        # that node): that one line is what the user can act on.
        raise ModelMissingError(f"a Ray worker could not load the embedding model {model_name} (install this "
                                f"package and the model on every node): {str(exc).strip().splitlines()[-1]}") from None
    # The actors finish batches in any order; the row number carried along puts them back.
    result = np.concatenate(parts)[np.argsort(np.concatenate(order), kind="stable")]
    return np.ascontiguousarray(result, dtype=np.float32)


def _import_ray():
    try:
        import ray
        import ray.data  # the [data] extra (pyarrow and friends), not in plain `pip install ray`
    except ImportError as exc:
        raise BadInputError(f"embedding on a cluster needs Ray Data ({exc}): {INSTALL_HINT}") from None
    return ray


def _init(ray, address: str) -> None:
    if address == "auto":
        # address=None is Ray's "a running cluster if there is one, else a local one"; Ray's own
        # "auto" refuses to start one.
        ray.init(address=None, logging_level=logging.WARNING)
        return
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise BadInputError(
            f"cannot reach the Ray cluster at {address!r} ({exc}); start it with `ray start --head` "
            "on the head node, or use --ray auto for a local Ray"
        ) from None
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError) as exc:  # Ray's refusals; a port that is open but no Ray
        # head is not one of them: ray.init then waits out its own timeout (about 5 minutes)
        raise BadInputError(f"cannot join the Ray cluster at {address!r}: {exc}") from None


def _host_port(address: str) -> tuple[str, int]:
    """("host", port) of "host:port" or "ray://host:port" ("[::1]:6379" for IPv6)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise BadInputError(f"Ray address {address!r} is not 'auto', 'host:port' or 'ray://host:port'")
    return host.strip("[]"), int(port)
