"""Duplicate-story groups kept up to date write by write equal the groups of the whole index recomputed."""

from __future__ import annotations

import random

import numpy as np

from embeddings.indexer import Indexer
from embeddings.models import Article
from embeddings.storage import duplicates
from embeddings.storage.reader import committed_db
from embeddings.storage.writer import IndexWriter

WORDS = [f"word{n}" for n in range(400)]


def reference_groups(db) -> dict[int, int | None]:
    """Every article's group computed from scratch with datasketch's own LSH, as every commit once did."""
    from datasketch import LeanMinHash, MinHashLSH

    rows = db.execute("SELECT article_rowid, signature FROM article_signatures").fetchall()
    lsh = MinHashLSH(threshold=duplicates.THRESHOLD, num_perm=duplicates.NUM_PERM)
    hashes = {r: LeanMinHash(seed=1, hashvalues=np.frombuffer(b, dtype=np.uint64), scheme=duplicates.SCHEME)
              for r, b in rows}
    for rowid, minhash in hashes.items():
        lsh.insert(rowid, minhash)
    parent = {r: r for r in hashes}

    def root(r):
        while parent[r] != r:
            r = parent[r]
        return r

    for rowid, minhash in hashes.items():
        for other in lsh.query(minhash):
            if other != rowid and minhash.jaccard(hashes[other]) >= duplicates.THRESHOLD:
                parent[max(root(rowid), root(other))] = min(root(rowid), root(other))
    members: dict[int, list[int]] = {}
    for rowid in hashes:
        members.setdefault(root(rowid), []).append(rowid)
    return {r: (min(g) if len(g) > 1 else None) for g in members.values() for r in g}


def stored_groups(db) -> dict[int, int | None]:
    return dict(db.execute("SELECT rowid, dup_group FROM articles"))


def variant(words: list[str], rng: random.Random, changes: int) -> list[str]:
    """A copy of a story with `changes` words replaced: 5 of 120 keep it a near duplicate, 30 do not."""
    copy = list(words)
    for position in rng.sample(range(len(copy)), changes):
        copy[position] = rng.choice(WORDS)
    return copy


def test_groups_after_each_add_edit_and_delete_equal_a_full_recompute(tmp_path, encoder):
    rng = random.Random(5)
    root = tmp_path / "index"
    stories = {f"s{n}": [rng.choice(WORDS) for _ in range(120)] for n in range(6)}
    for step in range(8):
        picks = rng.sample(sorted(stories), 3)
        for name in picks:  # near copies of existing stories, chains of them, and rewrites
            stories[f"{name}-{step}"] = variant(stories[name], rng, rng.choice([3, 5, 8, 30]))
        gone = rng.sample(sorted(stories), 2) if step % 2 else []
        edited = rng.choice(sorted(stories))
        stories[edited] = variant(stories[edited], rng, rng.choice([4, 40]))
        articles = [Article(id=name, title=name, text=" ".join(words) + ".") for name, words in stories.items()]
        Indexer(root, encoder, show_progress=False).run(articles)
        if gone:
            with IndexWriter(root, encoder.name, encoder.dim, backend=encoder.backend) as writer:
                for name in gone:
                    writer.remove(name)
                    del stories[name]
                writer.commit()
        with committed_db(root) as db:
            stored = stored_groups(db)
            assert stored == reference_groups(db), f"step {step}"
    assert any(group is not None for group in stored.values()), "the test made some duplicates"
