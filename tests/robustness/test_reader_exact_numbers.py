"""An exact number of the question outweighs every other evidence: among near-identical reports, the one holding
"bridge number 55" answers "which town opened bridge number 55", with the reader or without it."""

import pytest

from tests.robustness.conftest import town_question, write_corpus


@pytest.mark.parametrize("reader", [False, True], ids=["ranker", "reader"])
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
