"""Passage search by size: past GRAPH_FROM passages an HNSW graph answers, deletes stay out of it."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from embeddings.storage import merge, passage_graph, store
from embeddings.storage.reader import IndexReader
from embeddings.indexer import Indexer
from embeddings.loaders import load_paths
from retrieval.pipeline import Pipeline
from tests.conftest import SAMPLE

QUESTIONS = ["How much will the harbour wall repair cost?", "When does the Ostry tram line open?",
             "How many homes lost electricity during Storm Orla?", "Who won the coast marathon?"]


@pytest.fixture
def corpus(tmp_path):
    """A private copy of the sample articles that a test may delete from."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "articles"))


def build(root, folder, encoder):
    Indexer(root, encoder, show_progress=False).run(load_paths([folder]), prune=[folder])
    return IndexReader.open(root)


def graph_of(reader):
    """The HNSW graph of the reader's one segment of passages, or None."""
    [part] = reader.passage_vectors.parts
    return part.graph


def answers(root, encoder) -> list[list[tuple]]:
    pipeline = Pipeline(root, encoder)
    return [[(s.text, s.citation.article_id) for s in pipeline.ask(q).sentences] for q in QUESTIONS]


def test_large_index_searches_a_graph_with_the_exact_answers(tmp_path, corpus, encoder, monkeypatch):
    exact = build(tmp_path / "exact", corpus, encoder)
    assert graph_of(exact) is None, "a small index searches its passages exactly"
    monkeypatch.setattr(passage_graph, "GRAPH_FROM", 1)
    graph = build(tmp_path / "graph", corpus, encoder)
    assert graph_of(graph) is not None and graph_of(graph).ntotal == graph.passage_vectors.ntotal
    vector = encoder.encode([QUESTIONS[0]])[0]
    (g_scores, g_ids), (e_scores, e_ids) = graph.search_passages(vector, 10), exact.search_passages(vector, 10)
    assert g_ids.tolist() == e_ids.tolist() and np.allclose(g_scores, e_scores, atol=1e-5)
    assert answers(tmp_path / "graph", encoder) == answers(tmp_path / "exact", encoder)
    [segment] = (tmp_path / "graph" / "segments").iterdir()  # 8-bit codes, mapped from the file, not read
    assert str(segment / store.GRAPH_FILE) in Path("/proc/self/maps").read_text()
    assert (segment / store.GRAPH_FILE).stat().st_size < (segment / "passages.faiss").stat().st_size


def test_deleted_passages_are_never_found_and_many_deletes_rewrite_the_segment(tmp_path, corpus, encoder,
                                                                               monkeypatch):
    monkeypatch.setattr(passage_graph, "GRAPH_FROM", 1)
    root = tmp_path / "index"
    before = build(root, corpus, encoder)
    (corpus / "text" / "ostry-tram-line-opens.txt").unlink()
    after = build(root, corpus, encoder)
    assert 0 < after.passage_vectors.skipped <= merge.REWRITE_SHARE * graph_of(after).ntotal
    assert graph_of(after).ntotal == graph_of(before).ntotal, "one small delete leaves tombstones"
    vector = encoder.encode(["When does the Ostry tram line open?"])[0]
    _, ids = after.search_passages(vector, after.passage_vectors.ntotal)
    live = {row[0] for row in after.db.execute("SELECT id FROM passages")}
    assert set(ids[0][ids[0] >= 0].tolist()) == live
    shutil.rmtree(corpus / "markdown")
    rebuilt = build(root, corpus, encoder)
    assert rebuilt.passage_vectors.skipped == 0 and graph_of(rebuilt).ntotal == rebuilt.passage_vectors.ntotal


def test_graph_is_dropped_when_the_index_shrinks_below_the_threshold(tmp_path, corpus, encoder, monkeypatch):
    monkeypatch.setattr(passage_graph, "GRAPH_FROM", 1)
    root = tmp_path / "index"
    build(root, corpus, encoder)
    monkeypatch.setattr(passage_graph, "GRAPH_FROM", 10**6)
    (corpus / "wire.jsonl").unlink()
    assert graph_of(build(root, corpus, encoder)) is None
    assert not list(root.glob(f"segments/*/{store.GRAPH_FILE}"))


def test_a_graph_of_float32_copies_is_rewritten_with_codes_at_a_later_write(tmp_path, corpus, encoder, monkeypatch):
    """An index written before graphs stored 8-bit codes takes them at its next write, one segment per write."""
    import faiss

    def float32_graph(exact):  # a graph as they were built before
        graph = faiss.IndexIDMap(faiss.IndexHNSWFlat(exact.d, passage_graph.NEIGHBOURS, faiss.METRIC_INNER_PRODUCT))
        ids = passage_graph.ids_of(exact)
        graph.add_with_ids(exact.reconstruct_batch(ids), ids)
        return graph

    monkeypatch.setattr(passage_graph, "GRAPH_FROM", 1)
    root, held_back = tmp_path / "index", tmp_path / "later.txt"
    shutil.move(corpus / "text" / "ostry-tram-line-opens.txt", held_back)
    with monkeypatch.context() as before:
        before.setattr(passage_graph, "build", float32_graph)
        build(root, corpus, encoder)
    [old] = root.glob(f"segments/*/{store.GRAPH_FILE}")
    assert passage_graph.stores_floats(old)
    shutil.move(held_back, corpus / "text" / "ostry-tram-line-opens.txt")
    build(root, corpus, encoder)
    graphs = list(root.glob(f"segments/*/{store.GRAPH_FILE}"))
    assert old not in graphs and graphs and not any(passage_graph.stores_floats(g) for g in graphs)
    assert answers(root, encoder) == answers(build(tmp_path / "fresh", corpus, encoder).root, encoder)
