"""Read and write a generation of the index: articles in SQLite, sentence and passage vectors in FAISS."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings import duplicates
from embeddings.storage import database, passage_graph, store
from embeddings.storage.vectors import Part, Vectors
from embeddings.models import Article, Passage, Sentence

WRITE_ERRORS = (OSError, sqlite3.Error)  # what a full disk or a read-only directory raises while writing


def _faiss():
    """FAISS is imported on first use so commands that never touch vectors start fast."""
    import faiss

    # One question is one query, which FAISS searches in one thread anyway; a second OpenMP thread only
    # adds wake-up delays (p95 of a search over 56,000 passages 32 → 10 ms) and competes with the model.
    faiss.omp_set_num_threads(1)
    return faiss


def _write_vectors(index, path: Path) -> None:
    """Write a FAISS file; FAISS reports a failed write (e.g. a full disk) as RuntimeError, we as OSError."""
    try:
        _faiss().write_index(index, str(path))
    except RuntimeError as exc:
        raise OSError(str(exc).rsplit("failed: ", 1)[-1]) from exc


def _empty_vectors(dim: int):
    """An exact inner-product index with our own stable int64 ids (ids survive deletes)."""
    faiss = _faiss()
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


class IndexWriter:
    """Changes to the index, staged in a new generation and made visible all at once by `commit()`."""

    def __init__(self, root: Path, model: str, dim: int, *, backend: str, fresh: bool = False):
        from filelock import FileLock, Timeout

        self.root, self.model, self.dim, self.backend = Path(root), model, dim, backend
        self.committed: str | None = None
        self.staging, self.db = None, None
        self._lock = FileLock(str(self.root / ".lock"))
        self._created = not self.root.exists()  # a first write that commits nothing leaves nothing behind
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock.acquire(timeout=0)
        except Timeout:
            raise store.IndexLocked(
                f"another newsdesk process is writing the index at {self.root}; wait for it to finish"
            ) from None
        except WRITE_ERRORS as exc:  # e.g. a read-only index directory
            raise store.IndexWriteFailed(self.root, exc) from exc
        try:
            self._open(fresh)
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise

    def _open(self, fresh: bool) -> None:
        """Copy the current generation aside (unless `fresh`) and check it was built with the same model."""
        if store.current_generation(self.root) and not fresh:
            manifest = store.read_manifest(store.generation_dir(self.root))
            _check_model(manifest, self.model, self.dim, self.backend, self.root)
        self.staging = store.new_generation(self.root, copy=not fresh)
        self.db = database.connect(str(self.staging / store.DB_FILE))
        faiss = _faiss()
        self.vectors, self._doomed = {}, {store.SENTENCES_FILE: [], store.PASSAGES_FILE: []}
        for name in (store.SENTENCES_FILE, store.PASSAGES_FILE):
            path = self.staging / name
            self.vectors[name] = faiss.read_index(str(path)) if path.exists() else _empty_vectors(self.dim)
        graph = self.staging / store.GRAPH_FILE
        self.graph = faiss.read_index(str(graph)) if graph.exists() else None

    def known_articles(self) -> dict[str, tuple[str, str]]:
        """id → (content hash, origin) of what the index holds now."""
        return database.article_hashes(self.db)

    def remove(self, article_id: str) -> None:
        """Drop an article and its rows now, its vectors at commit (one FAISS pass removes them all)."""
        sentence_ids, passage_ids = database.delete_article(self.db, article_id)
        self._doomed[store.SENTENCES_FILE].extend(sentence_ids)
        self._doomed[store.PASSAGES_FILE].extend(passage_ids)

    def add(self, article: Article, sentences: list[Sentence], passages: list[Passage],
            sentence_vectors: np.ndarray, passage_vectors: np.ndarray) -> None:
        """Store an article with one vector per sentence and per passage, and sign it for duplicate grouping
        (here rather than at commit: the indexer calls this beside the model, where it costs less)."""
        sentence_ids, passage_ids = database.insert_article(self.db, article, sentences, passages,
                                                            duplicates.signature(article.text))
        self.vectors[store.SENTENCES_FILE].add_with_ids(sentence_vectors, np.array(sentence_ids, dtype=np.int64))
        self.vectors[store.PASSAGES_FILE].add_with_ids(passage_vectors, np.array(passage_ids, dtype=np.int64))

    def commit(self) -> str:
        """Group duplicate stories, check counts, write everything, switch CURRENT to the new generation."""
        duplicates.regroup(self.db)
        self.db.commit()
        counts = database.counts(self.db)
        self.db.close()
        for name, index in self.vectors.items():
            if self._doomed[name]:
                # remove_ids shifts every later vector: once per commit, not once per article.
                index.remove_ids(np.array(self._doomed[name], dtype=np.int64))
            _write_vectors(index, self.staging / name)
        self._write_graph()
        manifest = {"model": self.model, "dim": self.dim, "backend": self.backend, **counts}
        _check_counts(manifest, counts, self.vectors, self.root)
        self.committed = store.commit_generation(self.root, self.staging, manifest)
        return self.committed

    def _write_graph(self) -> None:
        """Keep the passage graph in step with the passages: made, extended, rebuilt or dropped by size."""
        self.graph = passage_graph.refresh(self.vectors[store.PASSAGES_FILE], self.graph)
        path = self.staging / store.GRAPH_FILE
        if self.graph is None:
            path.unlink(missing_ok=True)
        else:
            _write_vectors(self.graph, path)

    def __enter__(self) -> "IndexWriter":
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        """Discard the staged generation unless committed, release the lock, report a failed write as such."""
        try:
            if self.committed is None:
                if self.db is not None:
                    self.db.close()
                if self.staging is not None:
                    store.discard_generation(self.staging)
        finally:
            if self._created and self.committed is None:
                _remove_empty_root(self.root)  # still under the lock, so no other writer is using it
            self._lock.release()
        if isinstance(exc, WRITE_ERRORS):
            raise store.IndexWriteFailed(self.root, exc) from exc


def _remove_empty_root(root: Path) -> None:
    """Remove an index folder that a failed first write created, if it holds nothing but the lock file."""
    if {p.name for p in root.iterdir()} <= {".lock"}:
        (root / ".lock").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            root.rmdir()


@dataclass
class IndexReader:
    """A committed generation, loaded: FAISS in memory, SQLite opened read-only."""

    root: Path
    generation: str
    manifest: dict
    db: object
    sentence_vectors: Vectors
    passage_vectors: Vectors
    _overview: dict | None = field(default=None, repr=False)

    @classmethod
    def open(cls, root: Path, model: str | None = None, dim: int | None = None,
             backend: str | None = None) -> "IndexReader":
        """Load the current generation and validate it; retry when a writer replaced (and deleted) it meanwhile."""
        root = Path(root)
        while True:
            seen = store.current_generation(root)
            try:
                return cls._load(root, model, dim, backend)
            except (store.IndexError_, OSError, RuntimeError, sqlite3.Error):
                if store.current_generation(root) == seen:
                    raise

    @classmethod
    def _load(cls, root: Path, model: str | None, dim: int | None, backend: str | None) -> "IndexReader":
        gen = store.generation_dir(root)
        manifest = store.read_manifest(gen)
        if model is not None:
            _check_model(manifest, model, dim, backend, root)
        faiss = _faiss()
        vectors = {name: faiss.read_index(str(gen / name)) for name in (store.SENTENCES_FILE, store.PASSAGES_FILE)}
        graph = faiss.read_index(str(gen / store.GRAPH_FILE)) if (gen / store.GRAPH_FILE).exists() else None
        db = database.connect(str(gen / store.DB_FILE), readonly=True)
        try:
            _check_schema(db, root)
            _check_counts(manifest, database.counts(db), vectors, root)
        except store.IndexError_:
            db.close()
            raise
        dim = manifest.get("dim") or vectors[store.SENTENCES_FILE].d
        return cls(root, gen.name, manifest, db, Vectors([Part(vectors[store.SENTENCES_FILE])], dim),
                   Vectors([Part(vectors[store.PASSAGES_FILE], graph)], dim))

    def search_passages(self, vector: np.ndarray, k: int, allowed: list[int] | None = None):
        """(scores, ids) of the k passages nearest `vector`, among `allowed` ids if given."""
        return self.passage_vectors.search(vector, k, allowed)

    def is_stale(self) -> bool:
        """True once a writer has committed a newer generation than the one loaded."""
        return store.current_generation(self.root) != self.generation

    def stats(self) -> dict:
        """What the index holds and where, for `newsdesk stats` and the bot's /start."""
        keys = ("articles", "sentences", "passages", "model", "dim")
        return {key: self.manifest.get(key) for key in keys} | {"backend": manifest_backend(self.manifest),
            "generation": self.generation, "index": str(self.root), "size_bytes": store.disk_size(self.root)}

    def overview(self, newest: int = 3) -> dict:
        """Sources, date range and newest headlines (database.overview), read once per generation: on a large
        index the query scans every article."""
        if self._overview is None:
            self._overview = database.overview(self.db, newest)
        return self._overview

    def close(self) -> None:
        self.db.close()


@contextlib.contextmanager
def committed_db(root: Path) -> Iterator[sqlite3.Connection | None]:
    """The committed generation's database, read-only, for a quick look without loading the vectors;
    None when there is no index yet."""
    if store.current_generation(root) is None:
        yield None
        return
    db = database.connect(str(store.generation_dir(root) / store.DB_FILE), readonly=True)
    try:
        yield db
    finally:
        db.close()


def manifest_backend(manifest: dict) -> str:
    """The backend an index was embedded with; indexes from before the ONNX backend were all torch."""
    return manifest.get("backend", "torch")


def _check_model(manifest: dict, model: str, dim: int | None, backend: str | None, root: Path) -> None:
    """Refuse an index built with another embedding model or backend: its vectors would not match ours."""
    rebuild = f"rebuild it with `newsdesk index PATH --index {root} --rebuild`"
    if manifest.get("model") != model or (dim is not None and manifest.get("dim") != dim):
        raise store.IndexError_(
            f"the index at {root} was built with model {manifest.get('model')!r} ({manifest.get('dim')} dims), "
            f"but this newsdesk embeds with {model!r} ({dim} dims); {rebuild}"
        )
    if backend is not None and manifest_backend(manifest) != backend:
        raise store.IndexError_(
            f"the index at {root} was embedded with the {manifest_backend(manifest)} backend, but this newsdesk "
            f"embeds with {backend} (NEWSDESK_BACKEND); set NEWSDESK_BACKEND={manifest_backend(manifest)}, "
            f"or {rebuild}"
        )


def _check_schema(db, root: Path) -> None:
    """Refuse an index written by an older newsdesk (the next write that changes it also migrates it)."""
    missing = database.missing_columns(db)
    if missing:
        raise store.IndexError_(
            f"the index at {root} was built by an older newsdesk (it lacks {', '.join(missing)}); "
            f"rebuild it with `newsdesk index PATH --index {root} --rebuild`"
        )


def _check_counts(manifest: dict, counts: dict, vectors: dict, root: Path) -> None:
    """The manifest, SQLite and both FAISS files must agree, or the index is damaged."""
    found = {**counts, "sentence vectors": vectors[store.SENTENCES_FILE].ntotal,
             "passage vectors": vectors[store.PASSAGES_FILE].ntotal}
    expected = {key: manifest.get(key) for key in counts} | {
        "sentence vectors": manifest.get("sentences"), "passage vectors": manifest.get("passages")}
    if found != expected:
        raise store.IndexError_(
            f"the index at {root} is damaged: the manifest promises {expected} but the files hold {found}; "
            "rebuild it with `newsdesk index PATH --rebuild`"
        )
