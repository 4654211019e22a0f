"""The index on disk, and what is checked when it is opened.

Layout of an index directory:

    index.sqlite (-wal, -shm)  articles, sentences, passages, feed state, and the commit point: the manifest,
                               the segments listed and the deleted vectors (embeddings/storage/manifest.py)
    segments/<name>/           vector files that never change, one folder per write or merge (segment_files.py)
    lexical/                   a Tantivy index of the sentences for BM25, derived from the database (lexical.py)
    CURRENT                    the committed generation's name, rewritten after each commit, so readers
                               notice a newer one without opening the database
    .lock                      held by the one process writing
    feeds-status.json          when each feed was last fetched and how it answered (embeddings/feed_update.py)
    follows.json               the Telegram chats' standing questions (retrieval/standing.py)

A writer changes the database in one transaction and writes its new vectors as a new segment; committing that
transaction is the one moment the new generation becomes the index, so a reader or a crash only ever sees a
whole old or a whole new one (SQLite's write-ahead log, synced at each commit, keeps it so through a power cut).
An index written before segments (one `gen-*/` folder holding everything) is read as one segment and upgraded
by the next write (embeddings/storage/upgrade.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import sqlite3
from pathlib import Path

from embeddings.storage import database, manifest

FORMAT_VERSION = 2
DB_FILE, SENTENCES_FILE, PASSAGES_FILE, MANIFEST_FILE = (
    "index.sqlite", "sentences.faiss", "passages.faiss", "manifest.json",
)
GRAPH_FILE = "passages.hnsw"  # embeddings/storage/passage_graph.py
SEGMENTS_DIR = "segments"


class IndexError_(Exception):
    """An index that cannot be used as it is; the message says what to do."""


class IndexNotFound(IndexError_):
    pass


class IndexLocked(IndexError_):
    pass


class IndexWriteFailed(IndexError_):
    """Writing a new generation failed (disk full, read-only, ...); the committed one is untouched."""

    def __init__(self, root: Path, exc: BaseException):
        super().__init__(f"cannot write the index at {root}: {exc}; the previous index is unchanged")


def current_generation(root: Path) -> str | None:
    """The name CURRENT gives the committed generation, or None for an empty or absent index."""
    try:
        name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def connect_committed(root: Path) -> tuple[sqlite3.Connection, Path | None]:
    """A read transaction on the committed generation's database, and the generation's folder when the index
    predates segments (else None); IndexNotFound when nothing was ever committed."""
    path, legacy = root / DB_FILE, None
    if not path.exists():
        name = current_generation(root)
        legacy = root / name if name else None
        if legacy is None or not (legacy / DB_FILE).exists():
            raise IndexNotFound(f"no index at {root}: build one with `newsdesk index PATH --index {root}`")
        path = legacy / DB_FILE
    db = database.connect(str(path), readonly=True)
    try:
        db.execute("BEGIN")  # the snapshot is taken at the first read and kept until the connection closes
        if legacy is None and not manifest.read(db):
            raise IndexNotFound(f"no index at {root}: build one with `newsdesk index PATH --index {root}`")
    except BaseException:
        db.close()
        raise
    return db, legacy


def read_manifest(gen: Path) -> dict:
    """The manifest of an index from before segments, with a clear error when it is missing or unreadable."""
    try:
        return json.loads((gen / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise IndexError_(f"index at {gen.parent} is damaged ({gen / MANIFEST_FILE}: {exc}); rebuild it") from exc


def timestamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")


def new_generation_name() -> str:
    return f"gen-{timestamp()}-{secrets.token_hex(3)}"


def point_current(root: Path, generation: str) -> None:
    """Rewrite CURRENT after a commit (atomically: a reader reads the old name or the new one)."""
    write_atomically(root / "CURRENT", generation + "\n")
    fsync(root)


def remove_legacy_generations(root: Path) -> None:
    """Delete the folders of an index from before segments, once a commit has upgraded it (under the lock)."""
    for child in root.glob("gen-*"):
        shutil.rmtree(child, ignore_errors=True)


def remove_empty_root(root: Path) -> None:
    """Remove an index folder that a first write created and never committed to."""
    for path in root.glob(f"{DB_FILE}*"):
        path.unlink(missing_ok=True)
    shutil.rmtree(root / SEGMENTS_DIR, ignore_errors=True)
    if {p.name for p in root.iterdir()} <= {".lock"}:
        (root / ".lock").unlink(missing_ok=True)
        try:
            root.rmdir()
        except OSError:
            pass


def fsync(path: Path) -> None:
    """Flush a file or directory to disk so a power cut cannot commit a half-written segment."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace a small file beside the index whole: written to a temporary file, synced, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    temporary.write_text(text)
    fsync(temporary)
    os.replace(temporary, path)


def disk_size(root: Path) -> int:
    """Bytes used by the index: its database (with its log) and its segments."""
    files = [*root.glob(f"{DB_FILE}*"), *(root / SEGMENTS_DIR).glob("*/*")]
    name = current_generation(root)
    if not (root / DB_FILE).exists() and name:  # from before segments
        files = list((root / name).iterdir()) if (root / name).is_dir() else []
    return sum(f.stat().st_size for f in files if f.is_file())


def manifest_backend(saved: dict) -> str:
    """The backend an index was embedded with; indexes from before the ONNX backend were all torch."""
    return saved.get("backend", "torch")


def check_model(saved: dict, model: str, dim: int | None, backend: str | None, root: Path) -> None:
    """Refuse an index built with another embedding model or backend: its vectors would not match ours."""
    rebuild = f"rebuild it with `newsdesk index PATH --index {root} --rebuild`"
    if saved.get("model") != model or (dim is not None and saved.get("dim") != dim):
        raise IndexError_(
            f"the index at {root} was built with model {saved.get('model')!r} ({saved.get('dim')} dims), "
            f"but this newsdesk embeds with {model!r} ({dim} dims); {rebuild}"
        )
    if backend is not None and manifest_backend(saved) != backend:
        raise IndexError_(
            f"the index at {root} was embedded with the {manifest_backend(saved)} backend, but this newsdesk "
            f"embeds with {backend} (NEWSDESK_BACKEND); set NEWSDESK_BACKEND={manifest_backend(saved)}, "
            f"or {rebuild}"
        )


def check_counts(counts: dict, vectors: dict, root: Path, saved: dict | None = None) -> None:
    """SQLite's rows, the vectors of the listed segments (less the deleted) and, when given, the manifest must
    agree, or the index is damaged."""
    found = {**counts, "sentence vectors": vectors["sentences"], "passage vectors": vectors["passages"]}
    expected = {**counts, "sentence vectors": counts["sentences"], "passage vectors": counts["passages"]}
    if saved is not None:
        expected = {key: saved.get(key) for key in counts} | {
            "sentence vectors": saved.get("sentences"), "passage vectors": saved.get("passages")}
    if found != expected:
        raise IndexError_(
            f"the index at {root} is damaged: expected {expected} but the files hold {found}; "
            "rebuild it with `newsdesk index PATH --rebuild`"
        )
