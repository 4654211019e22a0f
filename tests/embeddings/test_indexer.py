"""Incremental indexing by content hash, atomic generations, and refusing a foreign or damaged index."""

import sqlite3

import pytest

from embeddings.storage import store
from embeddings.storage.manifest import read as read_manifest
from embeddings.storage.reader import IndexReader, committed_db
from embeddings.storage.writer import IndexWriter
from embeddings.indexer import Indexer
from embeddings.loaders import load_paths
from tests.conftest import unlisted_segments


def write_corpus(folder, articles: dict[str, str]):
    folder.mkdir(exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text)


CORPUS = {
    "harbour.txt": "Harbour wall to be rebuilt\n\nThe council voted on Tuesday to rebuild the harbour wall. "
                   "The work will cost four million dollars.",
    "bakery.txt": "Bakery opens\n\nA new bakery opened in Millbrook on Monday. It employs forty people.",
    "storm.txt": "Storm hits coast\n\nA storm cut power to two thousand homes on Sunday. Trees fell on the coast road.",
}


def run(root, folder, encoder):
    return Indexer(root, encoder, show_progress=False).run(load_paths([folder]), prune=[folder])


def test_reindex_embeds_only_what_changed_and_removes_what_is_gone(tmp_path, encoder):
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, CORPUS)
    first = run(root, corpus, encoder)
    assert sorted(first.added) == ["bakery.txt", "harbour.txt", "storm.txt"]

    again = run(root, corpus, encoder)
    assert (again.added, again.updated, again.removed, again.unchanged, again.sentences) == ([], [], [], 3, 0)
    assert again.generation is None, "an unchanged corpus must not write a new generation"

    (corpus / "bakery.txt").write_text("Bakery opens\n\nA new bakery opened in Millbrook on Friday. It employs fifty.")
    (corpus / "storm.txt").unlink()
    changed = run(root, corpus, encoder)
    assert (changed.added, changed.updated, changed.removed, changed.unchanged) == ([], ["bakery.txt"], ["storm.txt"], 1)
    assert changed.sentences == 2

    reader = IndexReader.open(root, encoder.name, encoder.dim)
    assert reader.stats()["articles"] == 2
    assert reader.sentence_vectors.ntotal == reader.stats()["sentences"] == 4
    texts = [row[0] for row in reader.db.execute("SELECT text FROM sentences")]
    assert "A new bakery opened in Millbrook on Friday." in texts
    assert not any("storm" in t.lower() for t in texts)


def test_indexing_another_folder_keeps_the_first(tmp_path, encoder):
    root = tmp_path / "index"
    write_corpus(tmp_path / "a", {"harbour.txt": CORPUS["harbour.txt"]})
    write_corpus(tmp_path / "b", {"bakery.txt": CORPUS["bakery.txt"]})
    run(root, tmp_path / "a", encoder)
    report = run(root, tmp_path / "b", encoder)
    assert report.removed == []
    assert IndexReader.open(root).stats()["articles"] == 2


def test_index_built_with_another_model_is_refused(tmp_path, encoder):
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, CORPUS)
    run(root, corpus, encoder)
    with pytest.raises(store.IndexError_, match="built with model .*--rebuild"):
        IndexReader.open(root, "some/other-model", 768)
    with pytest.raises(store.IndexError_, match="built with model"):
        IndexWriter(root, "some/other-model", 768, backend=encoder.backend)


def test_damaged_index_is_detected_on_load(tmp_path, encoder):
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, CORPUS)
    run(root, corpus, encoder)
    with sqlite3.connect(root / store.DB_FILE) as db:
        db.execute("DELETE FROM sentences WHERE id = (SELECT MIN(id) FROM sentences)")
    with pytest.raises(store.IndexError_, match="damaged"):
        IndexReader.open(root, encoder.name, encoder.dim)


def test_failed_write_leaves_the_previous_index_untouched(tmp_path, encoder):
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, CORPUS)
    run(root, corpus, encoder)
    before = store.current_generation(root)
    with pytest.raises(RuntimeError):
        with IndexWriter(root, encoder.name, encoder.dim, backend=encoder.backend) as writer:
            writer.remove("bakery.txt")
            raise RuntimeError("crash before commit")
    assert store.current_generation(root) == before
    assert unlisted_segments(root) == [], "the segment of the failed write was removed"
    assert IndexReader.open(root, encoder.name, encoder.dim).stats()["articles"] == 3


def test_second_writer_gets_a_clear_error(tmp_path, encoder):
    root = tmp_path / "index"
    with IndexWriter(root, encoder.name, encoder.dim, backend=encoder.backend):
        with pytest.raises(store.IndexLocked, match="another newsdesk process"):
            IndexWriter(root, encoder.name, encoder.dim, backend=encoder.backend)


def test_rebuild_starts_afresh_and_manifest_names_the_model(tmp_path, encoder):
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, CORPUS)
    run(root, corpus, encoder)
    report = Indexer(root, encoder, show_progress=False).run(load_paths([corpus]), rebuild=True)
    assert sorted(report.added) == sorted(CORPUS)
    with committed_db(root) as db:
        manifest = read_manifest(db)
    assert manifest["model"] == encoder.name and manifest["dim"] == 384 and manifest["articles"] == 3
    assert manifest["backend"] == encoder.backend


def test_reader_notices_a_newer_generation(tmp_path, encoder):
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, CORPUS)
    run(root, corpus, encoder)
    reader = IndexReader.open(root)
    (corpus / "storm.txt").unlink()
    run(root, corpus, encoder)
    assert reader.is_stale()
    assert reader.stats()["articles"] == 3, "a loaded generation keeps answering until it is replaced"


def test_chunks_split_ahead_give_the_same_index_as_one_chunk(tmp_path, encoder):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, CORPUS)
    rows = []
    for chunk in (1, 256):
        root = tmp_path / f"index-{chunk}"
        Indexer(root, encoder, chunk_articles=chunk, show_progress=False).run(load_paths([corpus]))
        reader = IndexReader.open(root)
        rows.append(reader.db.execute("SELECT a.id, s.idx, s.text FROM sentences s JOIN articles a "
                                      "ON a.rowid = s.article_rowid ORDER BY s.id").fetchall())
        assert reader.sentence_vectors.ntotal == len(rows[-1])
    assert rows[0] == rows[1] and len(rows[0]) == 6


def test_chunks_ramp_up_hold_their_size_ramp_down_and_keep_every_article_once():
    from embeddings.indexer import _chunks

    articles = list(range(6000))
    chunks = _chunks(articles, 1024)
    sizes = [len(c) for c in chunks]
    assert sizes[:8] == [16, 32, 64, 128, 256, 512, 1024, 1024] and sizes[-7:] == [1024, 512, 256, 128, 64, 32, 16]
    assert max(map(len, chunks)) == 1024 and [a for c in chunks for a in c] == articles
    assert [a for c in _chunks(articles[:40], 1024) for a in c] == articles[:40], "ramps meeting mid-way overlap nothing"
    assert _chunks([], 1024) == [] and [len(c) for c in _chunks(articles[:3], 1)] == [1, 1, 1]


def test_a_writer_killed_before_rewriting_current_is_repaired_by_the_next_run(tmp_path, encoder):
    """The commit is the database's; CURRENT (the readers' hint) is rewritten after the lexical index is brought
    up to date. A writer killed in between leaves CURRENT naming the old generation: the next run fixes it."""
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, CORPUS)
    run(root, corpus, encoder)
    committed = store.current_generation(root)
    store.point_current(root, "gen-20000101T000000-000000")
    run(root, corpus, encoder)  # nothing to index
    assert store.current_generation(root) == committed == IndexReader.open(root).generation
