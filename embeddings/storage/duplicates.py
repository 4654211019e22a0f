"""Near-duplicate stories (wire copies, updates): MinHash of word shingles, grouped at every commit.

Two articles tell the same story when their estimated Jaccard similarity of word 3-shingles reaches
THRESHOLD; a group is a connected set of such articles, named by its first article's rowid. Candidates come
from LSH bands (datasketch's banding for this threshold) kept in `article_bands`, so a commit reads only
what it changed: the articles it added, the remaining members of groups that lost one, and the articles
sharing a band with them. An index written before bands is banded whole by its next write.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from embeddings.storage import database

NUM_PERM = 64
SCHEME = "affine32"  # datasketch's hashing scheme: stored signatures are only comparable within one
SHINGLE = 3
# Estimated Jaccard similarity of word 3-shingles above which two articles tell the same story.
THRESHOLD = 0.6


@lru_cache(maxsize=1)
def _permutations():
    """The (seeded, so always equal) hash permutations, made once: making them costs more than hashing."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, scheme=SCHEME).permutations


@lru_cache(maxsize=1)
def _bands() -> list[tuple[int, int]]:
    """The slices of a signature that datasketch's LSH compares for THRESHOLD (its optimal banding)."""
    from datasketch import MinHashLSH

    return list(MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM).hashranges)


def signature(text: str) -> bytes:
    """The MinHash of an article's lower-cased word shingles, as stored in `article_signatures`."""
    from datasketch import MinHash

    words = re.findall(r"\w+", text.lower())
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(max(len(words) - SHINGLE + 1, 1))}
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME, permutations=_permutations())
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash.hashvalues.astype(np.uint64).tobytes()


def band_keys(blob: bytes) -> list[tuple[int, int]]:
    """(band, 64-bit key of that slice of the signature) for each band."""
    values = np.frombuffer(blob, dtype=np.uint64)
    return [(band, int.from_bytes(hashlib.blake2b(values[a:b].tobytes(), digest_size=8).digest(), "little",
                                  signed=True)) for band, (a, b) in enumerate(_bands())]


def regroup(db: sqlite3.Connection, added: Iterable[int], broken: Iterable[int], whole: bool = False) -> None:
    """Bring the groups up to date after a write that `added` these article rowids (signed by IndexWriter.add)
    and removed members of the groups `broken`; `whole` bands and regroups every article (an index written
    before bands)."""
    if whole:
        _sign_unsigned(db)
        db.execute("DELETE FROM article_bands")
        added = [r for (r,) in db.execute("SELECT rowid FROM articles")]
    added = list(added)
    _band(db, added)
    nodes = set(added) | {r for g in set(broken) for r in _members(db, g)}
    signatures = _signatures(db, nodes)
    parent = {n: n for n in nodes}
    for node in nodes:
        for other in _candidates(db, signatures[node]) - {node}:
            if other not in signatures:
                signatures |= _signatures(db, [other])
            if _similar(signatures[node], signatures[other]):
                _union(parent, node, other)
    for outsider in [r for r in parent if r not in nodes]:  # a group joined through one of its members
        for member in _members(db, _group_of(db, outsider)):
            _union(parent, outsider, member)
    _store(db, parent, nodes)


def _sign_unsigned(db: sqlite3.Connection) -> None:
    unsigned = db.execute("SELECT a.rowid, a.text FROM articles a LEFT JOIN article_signatures s"
                          " ON s.article_rowid = a.rowid WHERE s.article_rowid IS NULL").fetchall()
    db.executemany("INSERT INTO article_signatures (article_rowid, signature) VALUES (?, ?)",
                   [(rowid, signature(text)) for rowid, text in unsigned])


def _band(db: sqlite3.Connection, rowids: list[int]) -> None:
    rows = _signatures(db, rowids)
    db.executemany("INSERT OR IGNORE INTO article_bands (band, key, article_rowid) VALUES (?, ?, ?)",
                   [(band, key, rowid) for rowid, blob in rows.items() for band, key in band_keys(blob)])


def _signatures(db: sqlite3.Connection, rowids: Iterable[int]) -> dict[int, bytes]:
    return dict(database.rows_in(db, "SELECT article_rowid, signature FROM article_signatures"
                                     " WHERE article_rowid IN ({})", rowids))


def _candidates(db: sqlite3.Connection, blob: bytes) -> set[int]:
    """Articles sharing at least one band with this signature."""
    return {r for band, key in band_keys(blob)
            for (r,) in db.execute("SELECT article_rowid FROM article_bands WHERE band = ? AND key = ?", (band, key))}


def _similar(a: bytes, b: bytes) -> bool:
    """Estimated Jaccard similarity (the share of equal hash values) at least THRESHOLD."""
    return np.mean(np.frombuffer(a, dtype=np.uint64) == np.frombuffer(b, dtype=np.uint64)) >= THRESHOLD


def _members(db: sqlite3.Connection, group: int | None) -> list[int]:
    if group is None:
        return []
    return [r for (r,) in db.execute("SELECT rowid FROM articles WHERE dup_group = ?", (group,))]


def _group_of(db: sqlite3.Connection, rowid: int) -> int | None:
    row = db.execute("SELECT dup_group FROM articles WHERE rowid = ?", (rowid,)).fetchone()
    return row[0] if row else None


def _union(parent: dict[int, int], a: int, b: int) -> None:
    parent.setdefault(a, a)
    parent.setdefault(b, b)
    ra, rb = _root(parent, a), _root(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def _root(parent: dict[int, int], rowid: int) -> int:
    while parent[rowid] != rowid:
        parent[rowid] = parent[parent[rowid]]
        rowid = parent[rowid]
    return rowid


def _store(db: sqlite3.Connection, parent: dict[int, int], nodes: set[int]) -> None:
    """Each component of two or more is a group named by its smallest rowid; a node left alone has none."""
    members: dict[int, list[int]] = {}
    for rowid in parent:
        members.setdefault(_root(parent, rowid), []).append(rowid)
    db.executemany("UPDATE articles SET dup_group = ? WHERE rowid = ?",
                   [(min(group) if len(group) > 1 else None, rowid)
                    for group in members.values() for rowid in group if len(group) > 1 or rowid in nodes])
