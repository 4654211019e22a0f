"""A segment on disk: a folder under `segments/` holding the vectors one write (or one merge) added.

    segments/<name>/   sentences.faiss, passages.faiss (exact, with our ids), passages.hnsw in a large one,
                       passages.articles.npy (each passage's article, in id order: what filters select by)

Written to `<name>.tmp`, synced, then renamed, and never changed after: a commit only lists or unlists it.
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embeddings.storage import database, passage_graph, store, stored_vectors
from embeddings.storage.manifest import KINDS, Segment
from embeddings.storage.vectors import Part

FILES = {"sentences": store.SENTENCES_FILE, "passages": store.PASSAGES_FILE}
ARTICLES_FILE = "passages.articles.npy"


def faiss():
    """FAISS is imported on first use so commands that never touch vectors start fast."""
    import faiss as module

    # One question is one query, which FAISS searches in one thread anyway; a second OpenMP thread only
    # adds wake-up delays (p95 of a search over 56,000 passages 32 → 10 ms) and competes with the model.
    module.omp_set_num_threads(1)
    return module


def empty_vectors(dim: int, kind: str):
    """An inner-product index with our own stable int64 ids: passages exact (they are searched), sentences as
    float16 (only ever looked up by id: half the disk and page cache, scores within ~1e-3)."""
    if kind == "sentences":
        return faiss().IndexIDMap2(faiss().IndexScalarQuantizer(dim, faiss().ScalarQuantizer.QT_fp16,
                                                                faiss().METRIC_INNER_PRODUCT))
    return faiss().IndexIDMap2(faiss().IndexFlatIP(dim))


def folder(root: Path) -> Path:
    return root / store.SEGMENTS_DIR


def write_segment(root: Path, vectors: dict, db: sqlite3.Connection) -> Path:
    """Write `vectors` (kind → exact index) as a new segment, with its passages' articles (from `db`, in the
    writer's transaction) and a graph over its passages when it is large; synced and renamed into place, but
    not listed: the caller's commit lists it."""
    def fill(staging: Path) -> None:
        for kind in KINDS:
            _write(vectors[kind], staging / FILES[kind])
        passages = np.sort(passage_graph.ids_of(vectors["passages"]))
        np.save(staging / ARTICLES_FILE, database.passage_articles(db, passages))
        graph = passage_graph.build(vectors["passages"])
        if graph is not None:
            _write(graph, staging / store.GRAPH_FILE)

    return place_segment(root, fill)


def place_segment(root: Path, fill: Callable[[Path], None]) -> Path:
    """A new segment folder whose files `fill` puts in a staging folder: synced, then renamed into place."""
    staging = folder(root) / f"seg-{store.timestamp()}-{secrets.token_hex(3)}.tmp"
    staging.mkdir(parents=True)
    try:
        fill(staging)
        for file in staging.iterdir():
            store.fsync(file)
        final = staging.with_suffix("")
        staging.rename(final)
        store.fsync(folder(root))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _write(index, path: Path) -> None:
    """Write a FAISS file; FAISS reports a failed write (e.g. a full disk) as RuntimeError, we as OSError."""
    try:
        faiss().write_index(index, str(path))
    except RuntimeError as exc:
        raise OSError(str(exc).rsplit("failed: ", 1)[-1]) from exc


def describe_segment(name: str, vectors: dict) -> Segment:
    """The manifest's entry for a segment holding `vectors`: counts and id ranges."""
    ids = {kind: passage_graph.ids_of(vectors[kind]) for kind in KINDS}
    return Segment(name, len(ids["sentences"]), len(ids["passages"]), int(ids["sentences"].min()),
                   int(ids["sentences"].max()), int(ids["passages"].min()), int(ids["passages"].max()))


def read_parts(path: Path) -> dict[str, Part]:
    """One segment's vectors as parts of the reader's Vectors (kind → Part). The exact vectors are read by row
    (stored_vectors.py) and the graph memory-mapped (IO_FLAG_MMAP_IFC): the page cache holds what questions
    touch, the process only the ids and the graph's links. The files never change, and an open file or a
    mapping outlives their removal by a merge."""
    mapped = faiss().IO_FLAG_MMAP_IFC
    exact = {kind: stored_vectors.open_exact(path / FILES[kind]) for kind in KINDS}
    graph, articles = path / store.GRAPH_FILE, path / ARTICLES_FILE
    return {"sentences": Part(exact["sentences"]),
            "passages": Part(exact["passages"], faiss().read_index(str(graph), mapped) if graph.exists() else None,
                             np.load(articles, mmap_mode="r") if articles.exists() else None)}


def remove_segment(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_unlisted(root: Path, listed: list[Segment]) -> None:
    """Delete segment folders no committed generation lists: merged away, or left by a writer that died
    (only ever called under the writer's lock)."""
    keep = {s.name for s in listed}
    for path in folder(root).glob("seg-*") if folder(root).exists() else ():
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)

