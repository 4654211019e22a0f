"""BM25 over the sentences that stays fast on common words: a Tantivy index (block-max WAND, top-k pruning)
beside the database, derived from it.

FTS5 ranks every sentence that holds any question word before taking the best 50: "what did the government
say about the economy" costs 0.7 s at 2.3M sentences and grows with the index; Tantivy skips the postings
that cannot reach the top k (2 ms there). The database stays the truth: the writer brings this index up to
the generation it has just committed, and then names that generation in a file beside it (removed before
the index changes, so it never names a generation the index does not hold). A reader uses it only when its
generation is the database's; otherwise (an index from before this, a write killed between the two commits,
a copy without `lexical/`) questions go to FTS5, which finds as much (ReQA-SQuAD recall@20 0.905 for both,
scripts/bench_lexical.py) more slowly, and the next write rebuilds this index from the database.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tantivy

from embeddings.storage.store import write_atomically

LEXICAL_DIR = "lexical"
ANALYZER = "news"  # lower case, accents folded, Snowball stems: as FTS5's 'porter unicode61' tokenizer does
AT_FILE = "generation"  # in LEXICAL_DIR: the database generation the index holds (Tantivy ignores other files)
WRITER_HEAP = 64_000_000

log = logging.getLogger(__name__)


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_integer_field("article", indexed=True, fast=True)
    builder.add_text_field("text", stored=False, tokenizer_name=ANALYZER, index_option="freq")
    return builder.build()


def _analyzer() -> tantivy.TextAnalyzer:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.stemmer("english")).build())


def _open(root: Path, create: bool = False) -> tantivy.Index:
    path = Path(root) / LEXICAL_DIR
    if create:
        path.mkdir(exist_ok=True)
    index = tantivy.Index(_schema(), path=str(path), reuse=True) if create else tantivy.Index.open(str(path))
    index.register_tokenizer(ANALYZER, _analyzer())
    return index


def _generation(root: Path) -> str | None:
    """The database generation the index holds, or None when unknown (absent, or changed since)."""
    try:
        return (Path(root) / LEXICAL_DIR / AT_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


@dataclass
class LexicalIndex:
    """A searcher over one committed state of the index, for a reader of the same generation."""

    index: tantivy.Index
    searcher: tantivy.Searcher
    analyzer: tantivy.TextAnalyzer

    @classmethod
    def open(cls, root: Path, generation: str) -> "LexicalIndex | None":
        """The index when it is at `generation`, else None (the reader then searches with FTS5)."""
        at = _generation(root)
        if at != generation:
            if at is not None or (Path(root) / LEXICAL_DIR).exists():
                log.info("lexical index at %s is at %s, not %s; searching with FTS5 until the next write",
                         root, at, generation)
            return None
        try:
            index = _open(root)
            searcher = index.searcher()
        except (ValueError, OSError) as exc:  # absent, unreadable or from another Tantivy
            log.warning("lexical index at %s unusable (%s); searching with FTS5", root, exc)
            return None
        return cls(index, searcher, _analyzer())

    def search(self, terms: list[str], limit: int, allowed: np.ndarray | None = None) -> list[int]:
        """Ids of the sentences that best match any of `terms` by BM25, best first (only in the articles
        `allowed`, a mask by row id, if given)."""
        stems = list(dict.fromkeys(t for term in terms for t in self.analyzer.analyze(term)))
        if not stems or (allowed is not None and not allowed.any()):
            return []
        schema = self.index.schema
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", stem)) for stem in stems])
        if allowed is not None:
            within = tantivy.Query.term_set_query(schema, "article", np.flatnonzero(allowed).tolist())
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query),
                                                 (tantivy.Occur.Must, tantivy.Query.const_score_query(within, 0.0))])
        # Equal scores in sentence id order, as FTS5 gives them, whatever order segments were merged in.
        hits = self.searcher.search(query, 2 * limit, count=False).hits
        found = sorted((-score, self.searcher.doc(address)["id"][0]) for score, address in hits)
        return [sentence_id for _, sentence_id in found[:limit]]


def update(root: Path, db: sqlite3.Connection, generation: str, since: str | None = None,
           removed: list[int] = (), first_new: int = 0) -> None:
    """Bring the index to the database's `generation`: from generation `since` by dropping the `removed`
    sentence ids and adding the sentences from id `first_new` on; from anything else (or nothing) by
    rebuilding it from the database. A failure is logged, not raised: the database stands, and readers use
    FTS5 until a later write succeeds."""
    at = _generation(root)
    if at == generation:
        return
    whole, path = since is None or at != since, Path(root) / LEXICAL_DIR
    try:
        if whole:  # whatever is there (an older schema, a half-done update) goes; readers keep their mapping
            log.info("building the lexical index at %s from the database", root)
            shutil.rmtree(path, ignore_errors=True)
            removed, first_new = [], 0
        else:
            (path / AT_FILE).unlink(missing_ok=True)  # from here on, what it holds is unknown
        writer = _open(root, create=True).writer(heap_size=WRITER_HEAP, num_threads=1)
        for sentence_id in removed:
            writer.delete_documents_by_term("id", sentence_id)
        rows = db.execute("SELECT id, article_rowid, text FROM sentences WHERE id >= ?", (first_new,))
        for sentence_id, article, text in rows:
            writer.add_document(tantivy.Document(id=sentence_id, article=article, text=text))
        writer.commit()
        writer.wait_merging_threads()
        write_atomically(Path(root) / LEXICAL_DIR / AT_FILE, generation + "\n")
    except (ValueError, OSError) as exc:
        log.warning("could not update the lexical index at %s (%s); questions use FTS5 until the next write",
                    root, exc)
