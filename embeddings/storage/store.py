"""The index on disk: SQLite + two FAISS files + a manifest, committed as one generation.

Layout of an index directory:

    CURRENT              name of the committed generation (replaced atomically)
    .lock                held by the one process writing
    gen-<time>-<rand>/   manifest.json, index.sqlite, sentences.faiss, passages.faiss
                         (and passages.hnsw from 150,000 passages on: embeddings/storage/passage_graph.py)
    feeds-status.json    when each feed was last fetched and how it answered (embeddings/feed_update.py)
    follows.json         the Telegram chats' standing questions (retrieval/standing.py)

A writer copies the current generation into a new folder, changes it there, syncs it to disk and
only then points CURRENT at it, so a reader or a crash only ever sees a whole old or whole new index.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from pathlib import Path

FORMAT_VERSION = 1
DB_FILE, SENTENCES_FILE, PASSAGES_FILE, MANIFEST_FILE = (
    "index.sqlite", "sentences.faiss", "passages.faiss", "manifest.json",
)
GRAPH_FILE = "passages.hnsw"  # embeddings/storage/passage_graph.py


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
    """The committed generation's folder name, or None for an empty or absent index."""
    try:
        name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def generation_dir(root: Path) -> Path:
    """The folder of the committed generation; a clear error if there is none."""
    name = current_generation(root)
    if name is None:
        raise IndexNotFound(f"no index at {root}: build one with `newsdesk index PATH --index {root}`")
    return root / name


def read_manifest(gen: Path) -> dict:
    """The manifest of one generation, with a clear error when it is missing or unreadable."""
    try:
        return json.loads((gen / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise IndexError_(f"index at {gen.parent} is damaged ({gen / MANIFEST_FILE}: {exc}); rebuild it") from exc


def new_generation(root: Path, copy: bool = True) -> Path:
    """A fresh, not yet visible folder to build the next generation in (a copy of the current one)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    staging = root / f"gen-{stamp}-{secrets.token_hex(3)}.tmp"
    staging.mkdir()
    name = current_generation(root)
    try:
        if name is not None and copy:
            graph = [GRAPH_FILE] if (root / name / GRAPH_FILE).exists() else []  # large indexes only
            for file in (DB_FILE, SENTENCES_FILE, PASSAGES_FILE, *graph):
                shutil.copyfile(root / name / file, staging / file)
    except BaseException:
        discard_generation(staging)
        raise
    return staging


def commit_generation(root: Path, staging: Path, manifest: dict) -> str:
    """Write the manifest, sync everything, then atomically make `staging` the current generation."""
    manifest = {**manifest, "format_version": FORMAT_VERSION}
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    for file in staging.iterdir():
        _fsync(file)
    final = staging.with_suffix("")
    os.rename(staging, final)
    _fsync(root)
    pointer = root / "CURRENT.tmp"
    pointer.write_text(final.name + "\n")
    _fsync(pointer)
    os.replace(pointer, root / "CURRENT")
    _fsync(root)
    _remove_old_generations(root, keep={final.name})
    return final.name


def discard_generation(staging: Path) -> None:
    """Throw away an uncommitted generation, also when commit failed after renaming it; never the current one."""
    current = current_generation(staging.parent)
    for path in (staging, staging.with_suffix("")):
        if path.name != current:
            shutil.rmtree(path, ignore_errors=True)


def _remove_old_generations(root: Path, keep: set[str]) -> None:
    """Delete superseded generations and leftovers of crashed writers (only ever called under the lock)."""
    for child in root.glob("gen-*"):
        if child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def _fsync(path: Path) -> None:
    """Flush a file or directory to disk so a power cut cannot commit a half-written generation."""
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
    _fsync(temporary)
    os.replace(temporary, path)


def disk_size(root: Path) -> int:
    """Bytes used by the committed generation."""
    name = current_generation(root)
    return sum(f.stat().st_size for f in (root / name).iterdir()) if name else 0
