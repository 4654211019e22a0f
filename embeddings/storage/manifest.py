"""The commit point, kept in the index's SQLite database beside the text it describes.

A generation is what one committed transaction of that database holds: its manifest (model, counts, the
generation's name, the next free ids), the list of segments whose vector files make up the index, and the ids
of vectors whose rows were deleted after their segment was written. A writer changes rows, segment list and
manifest in one transaction, so a reader, a crash or a power cut sees a whole old or a whole new generation.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import astuple, dataclass

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    name TEXT PRIMARY KEY,
    sentences INTEGER NOT NULL,
    passages INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL,
    first_passage INTEGER NOT NULL,
    last_passage INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deleted_vectors (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    segment TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deleted_by_segment ON deleted_vectors(segment);
"""
KINDS = ("sentences", "passages")


def read(db: sqlite3.Connection) -> dict:
    """The committed manifest; {} for a database that has none (a new index)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'manifest'").fetchone():
        return {}
    return {key: json.loads(value) for key, value in db.execute("SELECT key, value FROM manifest")}


def write(db: sqlite3.Connection, manifest: dict) -> None:
    """Replace the manifest (inside the writer's transaction)."""
    db.execute("DELETE FROM manifest")
    db.executemany("INSERT INTO manifest (key, value) VALUES (?, ?)",
                   [(key, json.dumps(value)) for key, value in manifest.items()])


@dataclass(frozen=True)
class Segment:
    """A listed segment: how many vectors of each kind its files hold (deleted included) and the range of
    their ids. Ids are given out in increasing order and only neighbours are merged, so ranges never overlap."""

    name: str
    sentences: int
    passages: int
    first_sentence: int
    last_sentence: int
    first_passage: int
    last_passage: int

    def holds(self, kind: str, id_: int) -> bool:
        first, last = (self.first_sentence, self.last_sentence) if kind == "sentences" else \
            (self.first_passage, self.last_passage)
        return first <= id_ <= last


def segments(db: sqlite3.Connection) -> list[Segment]:
    """The listed segments in the order of their ids."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'segments'").fetchone():
        return []
    columns = ", ".join(Segment.__dataclass_fields__)
    return [Segment(*row) for row in db.execute(f"SELECT {columns} FROM segments ORDER BY first_sentence")]


def add_segment(db: sqlite3.Connection, segment: Segment) -> None:
    columns = ", ".join(Segment.__dataclass_fields__)
    db.execute(f"INSERT INTO segments ({columns}) VALUES ({', '.join('?' * len(Segment.__dataclass_fields__))})",
               astuple(segment))


def drop_segments(db: sqlite3.Connection, names: list[str]) -> None:
    """Unlist segments (merged into another, or all of them on a rebuild), with their deletions."""
    db.executemany("DELETE FROM segments WHERE name = ?", [(n,) for n in names])
    db.executemany("DELETE FROM deleted_vectors WHERE segment = ?", [(n,) for n in names])


def mark_deleted(db: sqlite3.Connection, kind: str, ids: list[int], listed: list[Segment]) -> None:
    """Record vectors whose rows are gone, each with the listed segment holding it: searches skip them until a
    merge drops them. Ids no listed segment holds (given out in this write) are not vectors on disk."""
    rows = [(kind, i, s.name) for i in ids for s in listed if s.holds(kind, i)]
    db.executemany("INSERT OR IGNORE INTO deleted_vectors (kind, id, segment) VALUES (?, ?, ?)", rows)


def deleted(db: sqlite3.Connection, kind: str, segment: str | None = None) -> np.ndarray:
    """The deleted ids of one kind, in every segment or in one."""
    where, params = ("kind = ?", [kind]) if segment is None else ("kind = ? AND segment = ?", [kind, segment])
    return np.array([r[0] for r in db.execute(f"SELECT id FROM deleted_vectors WHERE {where}", params)],
                    dtype=np.int64)


def deleted_counts(db: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """segment → {kind: deleted vectors} for the segments that have any."""
    counts: dict[str, dict[str, int]] = {}
    for segment, kind, n in db.execute("SELECT segment, kind, COUNT(*) FROM deleted_vectors GROUP BY segment, kind"):
        counts.setdefault(segment, dict.fromkeys(KINDS, 0))[kind] = n
    return counts


def first_new_ids(db: sqlite3.Connection) -> dict[str, int]:
    """The id the next sentence and passage will get. The tables are AUTOINCREMENT, so an id is never given
    twice, even after deletes: a deleted row's id, which may still name a vector in a segment, never names a
    new row."""
    given = dict(db.execute("SELECT name, seq FROM sqlite_sequence"))
    return {kind: given.get(kind, 0) + 1 for kind in KINDS}


def vector_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Vectors of each kind the listed segments hold, less those deleted: what SQLite's rows must number."""
    held = db.execute("SELECT COALESCE(SUM(sentences), 0), COALESCE(SUM(passages), 0) FROM segments").fetchone()
    gone = dict(db.execute("SELECT kind, COUNT(*) FROM deleted_vectors GROUP BY kind"))
    return {kind: n - gone.get(kind, 0) for kind, n in zip(KINDS, held)}
