"""Changes to the index, made visible all at once: rows in one SQLite transaction, the new vectors in one new
segment, the segment list and manifest in the same transaction (embeddings/storage/manifest.py).

A write costs what it changes: the segments already on disk are never copied or rewritten, only named, and the
vectors of deleted rows are recorded as deleted until a merge (embeddings/storage/merge.py) drops them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from embeddings.models import Article, Passage, Sentence
from embeddings.storage import database, duplicates, lexical, manifest, merge, segment_files, store
from embeddings.storage.manifest import KINDS
from embeddings.storage.upgrade import upgrade

WRITE_ERRORS = (OSError, sqlite3.Error)  # what a full disk or a read-only directory raises while writing


class IndexWriter:
    """One writer at a time (a lock file); nothing it does is seen before `commit()`, and nothing at all if it
    fails or is killed before."""

    def __init__(self, root, model: str, dim: int, *, backend: str, fresh: bool = False):
        from filelock import FileLock, Timeout

        self.root, self.model, self.dim, self.backend = Path(root), model, dim, backend
        self.committed: str | None = None
        self.db, self.written = None, []  # segment folders this write put on disk
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
        """Begin the transaction; check the index was built with the same model (a rebuild empties it instead)."""
        upgrade(self.root)
        self.db = database.connect(str(self.root / store.DB_FILE))
        self.db.execute("BEGIN IMMEDIATE")
        saved = manifest.read(self.db)
        if saved and not fresh:
            store.check_model(saved, self.model, self.dim, self.backend, self.root)
            lexical.update(self.root, self.db, saved["generation"])  # built here if missing or behind
            if store.current_generation(self.root) != saved["generation"]:  # a writer killed before rewriting it
                store.point_current(self.root, saved["generation"])
        self.listed = manifest.segments(self.db)
        self._since = saved.get("generation") if saved and not fresh else None  # what the lexical index follows
        if fresh:
            database.clear(self.db)
            manifest.drop_segments(self.db, [s.name for s in self.listed])
            self.listed = []
        self._first_new = manifest.first_new_ids(self.db)  # ids from here on are this write's own
        # Counted as rows come and go rather than by scanning the tables at commit (the reader still does).
        self.counts = {k: saved[k] for k in database.COUNTED} if saved and not fresh else database.counts(self.db)
        self.vectors = {kind: segment_files.empty_vectors(self.dim, kind) for kind in KINDS}
        self._removed: dict[str, list[int]] = {kind: [] for kind in KINDS}
        self._added, self._broken = [], set()  # article rowids added; duplicate groups that lost a member
        self._banded = fresh or not saved or saved.get("banded", False)  # else band the whole index once

    def known_articles(self, ids, under=()) -> dict[str, tuple[str, str]]:
        """id → (content hash, origin) of the stored articles with these ids or read from under these paths."""
        return database.article_hashes(self.db, ids, under)

    def remove(self, article_id: str) -> None:
        """Drop an article and its rows; its vectors are marked deleted at commit."""
        freed = database.delete_article(self.db, article_id)
        if freed is None:
            return
        sentence_ids, passage_ids, group = freed
        self._broken.add(group)
        self._removed["sentences"].extend(sentence_ids)
        self._removed["passages"].extend(passage_ids)
        self._count(-1, sentence_ids, passage_ids)

    def add(self, article: Article, sentences: list[Sentence], passages: list[Passage],
            sentence_vectors: np.ndarray, passage_vectors: np.ndarray) -> None:
        """Store an article with one vector per sentence and per passage, and sign it for duplicate grouping
        (here rather than at commit: the indexer calls this beside the model, where it costs less)."""
        rowid, sentence_ids, passage_ids = database.insert_article(self.db, article, sentences, passages,
                                                                   duplicates.signature(article.text))
        self._added.append(rowid)
        self.vectors["sentences"].add_with_ids(sentence_vectors, np.array(sentence_ids, dtype=np.int64))
        self.vectors["passages"].add_with_ids(passage_vectors, np.array(passage_ids, dtype=np.int64))
        self._count(1, sentence_ids, passage_ids)

    def _count(self, sign: int, sentence_ids: list[int], passage_ids: list[int]) -> None:
        self.counts["articles"] += sign
        self.counts["sentences"] += sign * len(sentence_ids)
        self.counts["passages"] += sign * len(passage_ids)

    def commit(self, merge_all: bool = False) -> str:
        """Group duplicate stories, write the new segment, merge where the policy says (everything into one
        segment with `merge_all`), check counts, and commit the transaction: the one moment the new
        generation becomes the index."""
        duplicates.regroup(self.db, self._added, self._broken - {None}, whole=not self._banded)
        self._record_removals()
        self._write_segment()
        self.written += merge.maybe_merge(self.root, self.db, self.dim, everything=merge_all)
        store.check_counts(self.counts, manifest.vector_counts(self.db), self.root)
        generation = store.new_generation_name()
        manifest.write(self.db, {"model": self.model, "dim": self.dim, "backend": self.backend, **self.counts,
                                 "generation": generation, "banded": True,
                                 "format_version": store.FORMAT_VERSION})
        self.db.commit()
        self.committed = generation
        lexical.update(self.root, self.db, generation, self._since, self._removed["sentences"],
                       self._first_new["sentences"])
        store.point_current(self.root, generation)
        segment_files.remove_unlisted(self.root, manifest.segments(self.db))
        store.remove_legacy_generations(self.root)
        return generation

    def _record_removals(self) -> None:
        """Vectors of removed rows: taken out of this write's own segment, marked deleted in the listed ones."""
        for kind in KINDS:
            ids = np.array(self._removed[kind], dtype=np.int64)
            own = ids[ids >= self._first_new[kind]]
            if len(own):
                self.vectors[kind].remove_ids(own)
            manifest.mark_deleted(self.db, kind, ids[ids < self._first_new[kind]].tolist(), self.listed)

    def _write_segment(self) -> None:
        """This write's vectors as a new segment on disk, synced and listed (when it added any)."""
        if self.vectors["sentences"].ntotal:
            path = segment_files.write_segment(self.root, self.vectors, self.db)
            self.written.append(path)
            manifest.add_segment(self.db, segment_files.describe_segment(path.name, self.vectors))

    def __enter__(self) -> "IndexWriter":
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        """Roll back unless committed, drop a segment written for nothing, release the lock, report a failed
        write as such."""
        try:
            if self.db is not None:
                self.db.close()  # without a commit, SQLite rolls the transaction back
            for path in self.written if self.committed is None else ():
                segment_files.remove_segment(path)
        finally:
            if self._created and self.committed is None:
                store.remove_empty_root(self.root)  # still under the lock, so no other writer is using it
            self._lock.release()
        if isinstance(exc, WRITE_ERRORS):
            raise store.IndexWriteFailed(self.root, exc) from exc
