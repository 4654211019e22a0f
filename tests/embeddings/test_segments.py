"""Segments: many small writes answer exactly as one, merges fold them, old indexes are upgraded, and a reader
keeps its generation while writers commit and merge."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from embeddings.indexer import Indexer
from embeddings.loaders import load_paths
from embeddings.storage import database, lexical, manifest, merge, store
from embeddings.storage.reader import IndexReader
from embeddings.storage.stored_vectors import StoredVectors
from retrieval.pipeline import Pipeline
from tests.conftest import SAMPLE, unlisted_segments
from tests.retrieval.test_pipeline import sample_questions, unanswerable_questions

QUESTIONS = [q for q, _ in sample_questions()] + unanswerable_questions() + [
    "how much did the tram cost", "who started kestrel robotics", "and how long is it"]


def answers(root, encoder) -> list[tuple]:
    """Every question's decision, quotes (text, article, offsets, score) and confidence, as users see them."""
    pipeline = Pipeline(root, encoder)
    found = []
    for question in QUESTIONS:
        answer = pipeline.ask(question)
        found.append((answer.answered, round(answer.confidence, 6),
                      [(s.text, s.citation.article_id, s.citation.start, round(s.score, 6)) for s in answer.sentences]))
    return found


def one_write_per_article(root, encoder) -> int:
    """Index the sample article by article, each write its own segment; the number of segments made."""
    articles = list(load_paths([SAMPLE]))
    for article in articles:
        Indexer(root, encoder, show_progress=False).run([article])
    return len(articles)


@pytest.fixture
def no_merges(monkeypatch):
    monkeypatch.setattr(merge, "MAX_PER_TIER", 10**6)


def test_one_segment_per_article_answers_exactly_as_one_segment(tmp_path, sample_index, encoder, no_merges):
    root = tmp_path / "spread"
    written = one_write_per_article(root, encoder)
    spread = IndexReader.open(root)
    assert spread.segments == written == 15 and IndexReader.open(sample_index).segments == 1
    assert answers(root, encoder) == answers(sample_index, encoder)


def test_neighbours_of_one_tier_are_merged_past_the_limit(tmp_path, sample_index, encoder, monkeypatch):
    monkeypatch.setattr(merge, "MAX_PER_TIER", 3)
    root = tmp_path / "merged"
    one_write_per_article(root, encoder)
    reader = IndexReader.open(root)
    assert reader.segments < 5, "15 one-article writes with at most 3 segments per tier"
    assert unlisted_segments(root) == [] and len(list((root / "segments").iterdir())) == reader.segments
    assert answers(root, encoder) == answers(sample_index, encoder)
    for part in reader.sentence_vectors.parts + reader.passage_vectors.parts:  # read by row, not into memory
        assert isinstance(part.exact, StoredVectors) and part.exact.path.parent.parent == root / "segments"
    for part in reader.passage_vectors.parts:  # written ones and merged ones: each passage's article, mapped
        assert isinstance(part.articles, np.memmap)
        assert part.articles.tolist() == database.passage_articles(reader.db, part.ids).tolist()
        assert set(part.articles.tolist()) <= {r for (r,) in reader.db.execute("SELECT rowid FROM articles")}


def index_folder(root, corpus, encoder) -> None:
    Indexer(root, encoder, show_progress=False).run(load_paths([corpus]), prune=[corpus])


def test_deletes_are_skipped_and_a_mostly_deleted_segment_is_rewritten(tmp_path, encoder, monkeypatch):
    corpus, root = shutil.copytree(SAMPLE, tmp_path / "articles"), tmp_path / "index"
    index_folder(root, corpus, encoder)
    (corpus / "text" / "fenwick-bees-study.txt").unlink()  # 1 article of 15
    with monkeypatch.context() as patch:
        patch.setattr(merge, "REWRITE_SHARE", 0.5)
        index_folder(root, corpus, encoder)
    one = IndexReader.open(root)
    assert one.segments == 1 and one.sentence_vectors.skipped > 0, "a small delete is only recorded"
    assert one.sentence_vectors.ntotal == one.stats()["sentences"]
    for name in ("markdown", "html"):
        shutil.rmtree(corpus / name)
    index_folder(root, corpus, encoder)
    rewritten = IndexReader.open(root)
    assert rewritten.sentence_vectors.skipped == 0 and rewritten.passage_vectors.skipped == 0
    assert rewritten.sentence_vectors.ntotal == rewritten.stats()["sentences"] < one.stats()["sentences"]
    assert unlisted_segments(root) == []
    assert not Pipeline(root, encoder).ask("What did the Fenwick bee study find?").answered


def test_a_reader_keeps_its_generation_while_a_write_merges_its_segment_away(tmp_path, encoder):
    corpus, root = shutil.copytree(SAMPLE, tmp_path / "articles"), tmp_path / "index"
    index_folder(root, corpus, encoder)
    reader = IndexReader.open(root)
    pipeline = Pipeline(root, encoder)
    before = pipeline.ask("How much did the tram line cost?")
    old_segments = set((root / "segments").iterdir())
    shutil.rmtree(corpus / "html")
    index_folder(root, corpus, encoder)
    assert not old_segments & set((root / "segments").iterdir()), "the old segment was rewritten"
    assert reader.is_stale() and reader.stats()["articles"] == 15
    assert reader.sentence_vectors.reconstruct_batch([1]).shape == (1, 384)
    again = pipeline.answerer.run(reader, before.question, encoder.encode([before.question])[0],
                                  pipeline.retriever.run(reader, before.question, encoder.encode([before.question])[0]))
    assert [s.text for s in again.sentences] == [s.text for s in before.sentences]


def test_an_index_from_before_segments_is_read_then_upgraded_by_a_write(tmp_path, sample_index, encoder):
    legacy = make_legacy(sample_index, tmp_path / "legacy")
    reader = IndexReader.open(legacy)
    assert reader.generation == "gen-20250101T000000-abcdef" and reader.segments == 1
    assert reader.lexical is None  # BM25 by FTS5 until a write builds the lexical index
    assert answers(legacy, encoder) == answers(without_lexical(sample_index, tmp_path / "fts5"), encoder)
    unchanged = list(load_paths([SAMPLE]))
    Indexer(legacy, encoder, show_progress=False).run(unchanged)  # a write with nothing to do upgrades it too
    assert (legacy / store.DB_FILE).exists() and not list(legacy.glob("gen-*"))
    assert store.current_generation(legacy) != "gen-20250101T000000-abcdef"
    assert answers(legacy, encoder) == answers(sample_index, encoder)
    extra = next(iter(load_paths([SAMPLE / "wire.jsonl"]))).model_copy(update={"id": "extra", "title": "Extra"})
    Indexer(legacy, encoder, show_progress=False).run([extra])
    upgraded = IndexReader.open(legacy)
    assert upgraded.segments == 2 and upgraded.stats()["articles"] == 16
    assert unlisted_segments(legacy) == []


def without_lexical(index, target):
    """A copy of the index without its Tantivy lexical index, as one built before it: served by FTS5."""
    shutil.copytree(index, target, ignore=shutil.ignore_patterns(lexical.LEXICAL_DIR))
    return target


def make_legacy(index, target):
    """The index at `index` as newsdesk wrote it before segments: one gen-*/ folder with everything in it."""
    gen = target / "gen-20250101T000000-abcdef"
    gen.mkdir(parents=True)
    [segment] = (index / "segments").iterdir()
    for file in (store.SENTENCES_FILE, store.PASSAGES_FILE):
        shutil.copyfile(segment / file, gen / file)
    shutil.copyfile(index / store.DB_FILE, gen / store.DB_FILE)
    db = sqlite3.connect(gen / store.DB_FILE)
    saved = manifest.read(db)
    for table in ("manifest", "segments", "deleted_vectors"):
        db.execute(f"DROP TABLE {table}")
    db.execute("PRAGMA journal_mode = DELETE")
    db.commit()
    db.close()
    keys = ("model", "dim", "backend", "articles", "sentences", "passages")
    (gen / store.MANIFEST_FILE).write_text(json.dumps({k: saved[k] for k in keys} | {"format_version": 1}))
    (target / "CURRENT").write_text(gen.name + "\n")
    return target


def test_compact_merges_every_segment_into_one_and_drops_deleted_rows(tmp_path, encoder, no_merges, monkeypatch,
                                                                      capsys):
    from bot.cli import main

    monkeypatch.setattr(merge, "REWRITE_SHARE", 1.0)  # deleted vectors stay until compacted
    root = tmp_path / "spread"
    one_write_per_article(root, encoder)
    Indexer(root, encoder, show_progress=False).run([], prune=[SAMPLE / "markdown"])  # two articles go
    assert IndexReader.open(root).sentence_vectors.skipped > 0
    assert main(["compact", "--index", str(root)]) == 0
    assert "15 segments merged into one" in capsys.readouterr().out
    compacted = IndexReader.open(root)
    assert compacted.segments == 1 and compacted.sentence_vectors.skipped == 0 == compacted.passage_vectors.skipped
    assert compacted.sentence_vectors.ntotal == compacted.stats()["sentences"]
    assert unlisted_segments(root) == [] and len(list((root / "segments").iterdir())) == 1
    assert main(["compact", "--index", str(root)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["compact", "--index", str(tmp_path / "none")]) == 2
    assert "no index at" in capsys.readouterr().err
