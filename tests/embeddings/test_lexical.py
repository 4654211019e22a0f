"""The Tantivy lexical index: it follows every write, answers common-word questions, honours filters, and a
reader falls back to FTS5 whenever it is not at the database's generation."""

from __future__ import annotations

import shutil

import pytest

from embeddings.indexer import Indexer
from embeddings.loaders import load_paths
from embeddings.storage import database, lexical
from embeddings.storage import reader as reader_module
from embeddings.storage.reader import IndexReader
from retrieval.words import query_terms
from tests.conftest import SAMPLE


def texts(reader: IndexReader, ids: list[int]) -> list[str]:
    rows = {row[0]: row[6] for row in database.sentences_by_id(reader.db, ids)} if ids else {}
    return [rows[i] for i in ids]


def held_by_lexical(reader: IndexReader) -> set[int]:
    """Every sentence id the Tantivy index holds."""
    import tantivy

    searcher = reader.lexical.searcher
    return {searcher.doc(a)["id"][0] for _, a in searcher.search(tantivy.Query.all_query(), 100_000).hits}


def test_a_new_index_searches_with_tantivy_and_agrees_with_fts5(sample_index):
    reader = IndexReader.open(sample_index)
    assert reader.lexical is not None
    for question in ["how much did the tram cost", "who started kestrel robotics", "record temperature millbrook"]:
        terms = query_terms(question)
        found = reader.lexical_search(terms, 10)
        assert found and found[0] == database.lexical_search(reader.db, terms, 10)[0]


def test_a_question_of_common_words_only_still_gets_candidates(sample_index):
    reader = IndexReader.open(sample_index)
    terms = query_terms("what did they say about the city")
    found = texts(reader, reader.lexical_search(terms, 20))
    stems = lexical._analyzer().analyze(" ".join(terms))
    assert len(found) >= 5 and all(set(stems) & set(lexical._analyzer().analyze(text)) for text in found)


def test_filters_keep_to_the_allowed_articles(sample_index):
    reader = IndexReader.open(sample_index)
    where = ("a.id = ?", [reader.db.execute("SELECT id FROM articles ORDER BY rowid LIMIT 1").fetchone()[0]])
    allowed = set(database.article_rowids_where(reader.db, where))
    found = reader.lexical_search(query_terms("said city council people year"), 50, where)
    assert found and {row[1] for row in database.sentences_by_id(reader.db, found)} <= allowed
    unfiltered = reader.lexical_search(query_terms("said city council people year"), 50)
    assert {row[1] for row in database.sentences_by_id(reader.db, unfiltered)} - allowed


def test_writes_are_followed_incrementally(tmp_path, encoder):
    root = tmp_path / "index"
    articles = list(load_paths([SAMPLE]))
    Indexer(root, encoder, show_progress=False).run(articles[:-1])
    Indexer(root, encoder, show_progress=False).run(articles[1:], prune=[SAMPLE])  # adds the last, drops the first
    reader = IndexReader.open(root)
    assert reader.lexical is not None
    held = {row[0] for row in reader.db.execute("SELECT id FROM sentences")}
    assert held_by_lexical(reader) == held  # the first article's sentences gone, the last one's in, nothing else


def test_a_reader_uses_fts5_until_a_write_brings_the_index_back(index_copy, encoder):
    shutil.rmtree(index_copy / lexical.LEXICAL_DIR)  # as an index from before, or a copy without it
    reader = IndexReader.open(index_copy)
    assert reader.lexical is None
    assert reader.lexical_search(query_terms("how much did the tram cost"), 10)
    Indexer(index_copy, encoder, show_progress=False).run(list(load_paths([SAMPLE]))[1:], prune=[SAMPLE])
    reader = IndexReader.open(index_copy)
    assert reader.lexical is not None
    held = {row[0] for row in reader.db.execute("SELECT id FROM sentences")}
    assert held_by_lexical(reader) == held


def test_a_lexical_index_behind_the_database_is_not_used(index_copy):
    reader = IndexReader.open(index_copy)
    assert lexical.LexicalIndex.open(index_copy, "some-other-generation") is None
    assert lexical.LexicalIndex.open(index_copy, reader.generation) is not None


def test_a_lexical_index_of_another_schema_is_rebuilt_by_the_next_write(index_copy, encoder):
    import tantivy

    shutil.rmtree(index_copy / lexical.LEXICAL_DIR)
    (index_copy / lexical.LEXICAL_DIR).mkdir()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=True)
    old = tantivy.Index(builder.build(), path=str(index_copy / lexical.LEXICAL_DIR))
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    writer.add_document(tantivy.Document(body="from another version"))
    writer.commit()
    assert IndexReader.open(index_copy).lexical is None
    Indexer(index_copy, encoder, show_progress=False).run(list(load_paths([SAMPLE]))[1:], prune=[SAMPLE])
    reader = IndexReader.open(index_copy)
    assert reader.lexical is not None
    assert held_by_lexical(reader) == {row[0] for row in reader.db.execute("SELECT id FROM sentences")}


def test_a_failed_lexical_update_leaves_the_commit_and_the_next_write_repairs_it(index_copy, encoder, monkeypatch):
    articles = list(load_paths([SAMPLE]))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(lexical, "_open", full_disk)
        report = Indexer(index_copy, encoder, show_progress=False).run(articles[1:], prune=[SAMPLE])
    reader = IndexReader.open(index_copy)
    assert report.generation == reader.generation and report.removed  # the write itself committed
    assert reader.lexical is None and reader.lexical_search(query_terms("how much did the tram cost"), 5)
    Indexer(index_copy, encoder, show_progress=False).run(articles, prune=[SAMPLE])
    reader = IndexReader.open(index_copy)
    assert reader.lexical is not None
    assert held_by_lexical(reader) == {row[0] for row in reader.db.execute("SELECT id FROM sentences")}


@pytest.mark.parametrize("post_filter_share", [reader_module.POST_FILTER_SHARE, 2.0])
def test_a_filter_keeps_the_best_allowed_hits_in_order(sample_index, monkeypatch, post_filter_share):
    """A broad filter keeps the allowed ones among the best hits of all, a narrow one searches inside a term set
    of articles (forced here by a share no filter reaches): both give the allowed sentences in the order of an
    unfiltered search."""
    monkeypatch.setattr(reader_module, "POST_FILTER_SHARE", post_filter_share)
    reader = IndexReader.open(sample_index)
    terms = query_terms("said city council people year")
    everything = reader.lexical_search(terms, 10_000)  # every match, best first
    article = {row[0]: row[1] for row in database.sentences_by_id(reader.db, everything)}
    rowids = sorted(set(article.values()))
    for allowed in (rowids[1:], rowids[::3], rowids[:1]):
        where = (f"a.rowid IN ({', '.join('?' * len(allowed))})", allowed)
        expected = [i for i in everything if article[i] in allowed][:10]
        assert len(expected) >= 3 and reader.lexical_search(terms, 10, where) == expected
