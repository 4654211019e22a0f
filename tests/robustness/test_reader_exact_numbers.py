"""The reader must not outweigh an exact number of the question: what keeps it from being the default."""

import pytest

from tests.robustness.conftest import town_question, write_corpus


@pytest.mark.parametrize("reader", [False, pytest.param(True, marks=pytest.mark.xfail(
    strict=True, reason="the scorer's logit outweighs the exact number among near-identical reports: "
                        "'which town opened bridge number 55' quotes bridge 57 first (docs/benchmarks.md)"))],
    ids=["ranker", "reader"])
def test_sixty_near_identical_reports_each_answer_their_own_number(tmp_path, encoder, reader):
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths
    from retrieval.pipeline import Pipeline
    from retrieval.reading import shipped_reading

    folder = write_corpus(tmp_path / "corpus", range(60))
    Indexer(tmp_path / "index", encoder, show_progress=False).run(load_paths([folder]), prune=[folder])
    pipeline = Pipeline(tmp_path / "index", encoder, reading=shipped_reading() if reader else None)
    wrong = [n for n in range(60) if f"bridge number {n} " not in pipeline.ask(town_question(n)).sentences[0].text]
    assert not wrong, wrong
