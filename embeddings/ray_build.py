"""Splitting and embedding on a Ray cluster, for `newsdesk index --ray`: the index is still written here.

What changed is decided before, in the `newsdesk` process (content hashes), and the one atomic commit is made
after it, there too: the cluster only turns articles into sentences and vectors. Ray Data splits sentences
in tasks and embeds them with a pool of encoder actors (the model loaded once per actor, one actor per CPU
slot, or per GPU with `device="cuda"`); batches come back in whatever order they finish. Ray retries the
work of a worker that dies; the vectors do not depend on where or in which batch a sentence was embedded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from embeddings.models import Article, Sentence

INSTALL = "--ray needs Ray: pip install 'newsdesk[ray]'"
# A Ray started for one run binds to this loopback address: Ray replaces 127.0.0.1 by the machine's network
# address, and keeps other loopback addresses.
LOOPBACK = "127.0.0.2"
CONNECT_SECONDS = 10  # how long a cluster's address may take to answer
BATCH_ARTICLES = 32  # articles per task and per actor call: a few hundred sentences, model batches full
STALL_SECONDS = 600  # a batch of 32 articles takes seconds on one CPU slot: ten minutes of nothing is a lost cluster


class ClusterError(RuntimeError):
    """The cluster cannot be reached or cannot run the work; the message is one line for the user."""


class RayEmbedder:
    """Articles → (article, sentences) chunks with their vectors, computed on a Ray cluster.

    `address` is a cluster's "host:port", "auto" for the cluster this machine belongs to, or None to start a
    local Ray for the run (stopped after it)."""

    def __init__(self, address: str | None, backend: str, device: str = "cpu", batch_articles: int = BATCH_ARTICLES):
        self.address, self.backend, self.device, self.batch_articles = address, backend, device, batch_articles
        self.actors = 0

    def check(self) -> None:
        """Fail now, in one line, if Ray is missing or nothing answers at the cluster's address (a quick TCP
        connect, before any work and whether or not anything will need embedding)."""
        _ray()
        if self.address is not None:
            _reachable(self.address)

    def embed(self, articles: list[Article]) -> Iterator[tuple[list[tuple[Article, list[Sentence]]], np.ndarray]]:
        """Each batch of articles with their sentences, and the sentences' vectors (rows in that order)."""
        ray = _connect(self.address)
        try:
            self.actors = _slots(ray, self.device)
            by_id = {a.id: a for a in articles}
            for batch in _dataset(ray, articles, self).iter_batches(batch_size=None, batch_format="numpy"):
                split = [(by_id[i], _sentences(s)) for i, s in zip(batch["id"], batch["sentences"])]
                vectors = np.concatenate([np.frombuffer(v, dtype=np.float32) for v in batch["vectors"]])
                yield split, vectors.reshape(-1, int(batch["dim"][0]))
        except ray.data.exceptions.ExecutionTimeoutError:
            raise ClusterError(f"the Ray cluster made no progress for {_stall_seconds():.0f} s: no worker left to "
                               "run on?") from None
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"the Ray cluster failed: {_first_line(exc)}") from exc
        finally:
            ray.shutdown()


def _connect(address: str | None):
    """Ray, connected to the cluster at `address` (or to a local one started now)."""
    ray = _ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # newsdesk reports progress and failures itself
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"ray\.")
    options = {"log_to_driver": False, "logging_level": logging.ERROR,
               "runtime_env": {"py_modules": [str(Path(__file__).parent)]}}
    if address is None:
        local = {"address": "local", "_node_ip_address": LOOPBACK, "include_dashboard": False}
    else:
        host = _reachable(address)
        local = {"address": address, "_node_ip_address": host if host and host.startswith("127.") else None}
    try:
        with _native_stderr_silenced():
            ray.init(**local, **options)  # `_node_ip_address`: this machine's loopback address in its cluster
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError or ValueError, by cause
        raise ClusterError(f"cannot reach the Ray cluster at {address or 'a local Ray'}: {_first_line(exc)}") from None
    return ray


@contextlib.contextmanager
def _native_stderr_silenced():
    """File descriptor 2 sent to /dev/null: Ray's C++ core announces its log level there as it starts."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL) from None
    return ray


def _reachable(address: str) -> str | None:
    """The host of a "host:port" address once something listens there ("auto": None, Ray finds it). Ray itself
    would wait minutes for a cluster that is not there."""
    if address == "auto":
        return None
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except ValueError:
        hint = " (a path? `--ray` alone takes the next word as its address: put it after the paths)" \
            if Path(address).exists() else ""
        raise ClusterError(f"the Ray cluster address {address!r} is not host:port or 'auto'{hint}") from None
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None
    return host


def _slots(ray, device: str) -> int:
    """How many encoder actors the cluster holds: one per CPU slot, or per GPU."""
    slots = int(ray.cluster_resources().get("GPU" if device == "cuda" else "CPU", 0))
    if slots < 1:
        raise ClusterError(f"the Ray cluster has no {'GPU' if device == 'cuda' else 'CPU'} to embed on")
    return slots


def _dataset(ray, articles: list[Article], embedder: RayEmbedder):
    """The Ray Data pipeline: articles (as JSON) → sentences (tasks) → vectors (a pool of actors)."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = context.print_on_execution_start = False  # newsdesk draws its own
    context.execution_no_progress_timeout_s = _stall_seconds()  # e.g. every worker lost: fail, do not wait
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # configured again when ray.data is imported
    rows = [{"article": a.model_dump_json()} for a in articles]
    gpus = {"num_gpus": 1} if embedder.device == "cuda" else {"num_cpus": 1}
    return (ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // embedder.batch_articles))
            .map_batches(split_batch, batch_size=embedder.batch_articles)
            .map_batches(EncoderActor, batch_size=embedder.batch_articles,
                         fn_constructor_kwargs={"backend": embedder.backend, "device": embedder.device},
                         compute=ray.data.ActorPoolStrategy(size=embedder.actors), **gpus))


def _stall_seconds() -> float:
    """How long a run may make no progress before it fails: Ray Data's own setting where the environment
    gives one (RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S), else STALL_SECONDS."""
    return float(os.environ.get("RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S", STALL_SECONDS))


def split_batch(batch: dict) -> dict:
    """A Ray task: articles (JSON) → their ids and sentences (JSON lists), as a local build splits them."""
    from embeddings.segment import split_sentences

    articles = [Article.model_validate_json(text) for text in batch["article"]]
    return {"id": np.array([a.id for a in articles], dtype=object),
            "sentences": np.array([json.dumps([s.model_dump() for s in split_sentences(a)]) for a in articles],
                                  dtype=object)}


class EncoderActor:
    """A Ray actor: the embedding model loaded once, then each batch's sentences embedded (one thread per CPU
    slot it holds)."""

    def __init__(self, backend: str, device: str):
        from embeddings.encoder import make_encoder

        self.encoder = make_encoder(backend, threads=1, device=device)
        self.encoder.load()

    def __call__(self, batch: dict) -> dict:
        texts = [[s["text"] for s in json.loads(sentences)] for sentences in batch["sentences"]]
        flat = [text for article in texts for text in article]
        vectors = self.encoder.encode(flat) if flat else np.zeros((0, self.encoder.dim), dtype=np.float32)
        ends = np.cumsum([len(article) for article in texts])
        return {"id": batch["id"], "sentences": batch["sentences"],
                "vectors": np.array([vectors[end - len(t):end].astype(np.float32).tobytes() for t, end in zip(texts, ends)],
                                    dtype=object),
                "dim": np.full(len(texts), self.encoder.dim)}


def _sentences(text: str) -> list[Sentence]:
    return [Sentence(**fields) for fields in json.loads(text)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
