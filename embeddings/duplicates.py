"""Near-duplicate stories (wire copies, updates): MinHash of word shingles, grouped at every commit."""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache

import numpy as np

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


def signature(text: str) -> bytes:
    """The MinHash of an article's lower-cased word shingles, as stored in `article_signatures`."""
    from datasketch import MinHash

    words = re.findall(r"\w+", text.lower())
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(max(len(words) - SHINGLE + 1, 1))}
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME, permutations=_permutations())
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash.hashvalues.astype(np.uint64).tobytes()


def regroup(db: sqlite3.Connection) -> None:
    """Sign the articles not signed yet (IndexWriter.add signs new ones), then recompute every group, so
    removals and edits regroup too."""
    unsigned = db.execute("SELECT a.rowid, a.text FROM articles a LEFT JOIN article_signatures s"
                          " ON s.article_rowid = a.rowid WHERE s.article_rowid IS NULL").fetchall()
    db.executemany("INSERT INTO article_signatures (article_rowid, signature) VALUES (?, ?)",
                   [(rowid, signature(text)) for rowid, text in unsigned])
    groups = _components(db.execute("SELECT article_rowid, signature FROM article_signatures").fetchall())
    db.execute("UPDATE articles SET dup_group = NULL WHERE dup_group IS NOT NULL")
    db.executemany("UPDATE articles SET dup_group = ? WHERE rowid = ?",
                   [(min(members), rowid) for members in groups for rowid in members])


def _components(rows: list[tuple[int, bytes]]) -> list[list[int]]:
    """Groups (of two or more rowids) of articles linked by estimated similarity >= THRESHOLD."""
    from datasketch import LeanMinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    hashes = {rowid: LeanMinHash(seed=1, hashvalues=np.frombuffer(blob, dtype=np.uint64), scheme=SCHEME) for rowid, blob in rows}
    for rowid, minhash in hashes.items():
        lsh.insert(rowid, minhash)
    parent = {rowid: rowid for rowid in hashes}

    def root(rowid: int) -> int:
        while parent[rowid] != rowid:
            parent[rowid] = parent[parent[rowid]]
            rowid = parent[rowid]
        return rowid

    for rowid, minhash in hashes.items():
        for other in lsh.query(minhash):
            if other != rowid and minhash.jaccard(hashes[other]) >= THRESHOLD:
                parent[root(other)] = root(rowid)
    members: dict[int, list[int]] = {}
    for rowid in hashes:
        members.setdefault(root(rowid), []).append(rowid)
    return [group for group in members.values() if len(group) > 1]
