"""The answerer's decisions: the ranker's first choice is quoted first, and the answer-or-refuse decision
does not depend on how many other articles are indexed."""

import pytest

from tests.conftest import REPO, SAMPLE, SEEDS, assert_quotes_are_exact, require_shared
from tests.retrieval.test_pipeline import sample_questions, unanswerable_questions


def first_choice(pipeline, question: str) -> int:
    """The sentence id the answerer ranks first for a stand-alone question."""
    index = pipeline.index
    vector = pipeline.encoder.encode([question])[0]
    candidates = pipeline.retriever.run(index, question, vector)
    judgement = pipeline.answerer.assess(index, question, vector, candidates, chance=pipeline.chance(index))
    return candidates[judgement.order[0]].sentence_id


def test_the_first_quoted_sentence_is_the_rankers_first_choice(sample_pipeline):
    questions = [q for q, _ in sample_questions()] + ["who started kestrel robotics?", "how much did the tram cost"]
    for question in questions:
        answer = sample_pipeline.ask(question)
        if answer.answered:
            assert answer.sentences[0].sentence_id == first_choice(sample_pipeline, question), question


def test_further_sentences_stay_close_to_the_first(sample_pipeline):
    answer = sample_pipeline.ask("how much did the tram cost", top=10)
    full = sample_pipeline.ask("how much did the tram cost", top=10, abstain=False)
    assert answer.answered and 1 <= len(answer.sentences) < len(full.sentences)


def one_article_pipeline(tmp_path, encoder, article_id):
    """A pipeline over an index holding only one sample article."""
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths
    from retrieval.pipeline import Pipeline

    articles = [a for a in load_paths([SAMPLE]) if a.id == article_id]
    Indexer(tmp_path / "one", encoder, show_progress=False).run(articles)
    return Pipeline(tmp_path / "one", encoder)


@pytest.mark.parametrize("article_id", ["text/ostry-tram-line-opens.txt", "wire-2025-1109-storm-orla"])
def test_abstention_on_a_one_article_index_matches_the_full_sample(tmp_path, encoder, sample_pipeline, article_id):
    alone = one_article_pipeline(tmp_path, encoder, article_id)
    for question, article in sample_questions():
        decision = alone.ask(question)
        if article == article_id:
            assert decision.answered and decision.sentences[0].citation.article_id == article_id, question
            assert sample_pipeline.ask(question).answered, question
            assert_quotes_are_exact(alone, decision)
    for question in unanswerable_questions():
        assert not alone.ask(question).answered, question


def test_the_seed_page_alone_answers_paraphrased_questions(tmp_path, encoder):
    """The chat set's questions about the seed page (both halves), typed as people type, over that page
    alone, against the targets of the answer-quality issue: at least 90% answered, 85% with a gold sentence
    first, and at least 90% of the questions about the sample corpus refused."""
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths
    from retrieval.evaluate import gold_rank, read_qa
    from retrieval.pipeline import Pipeline

    Indexer(tmp_path / "seed", encoder, show_progress=False).run(load_paths([require_shared(SEEDS)]))
    pipeline = Pipeline(tmp_path / "seed", encoder)
    questions = read_qa([REPO / "tests" / "data" / f"chat_questions.{half}.jsonl" for half in ("fit", "test")])[1]
    seed = [q for q in questions if q.article_id == "000_abd5cfe2a4579f9a.txt"]
    answers = [pipeline.ask(q.question) for q in seed]
    assert len(seed) >= 15
    assert sum(a.answered for a in answers) >= 0.9 * len(seed)
    assert sum(gold_rank(q, a) == 1 for q, a in zip(seed, answers)) >= 0.85 * len(seed)
    others = [q for q in questions if q.article_id.startswith(("wire-", "html/", "text/"))]
    assert sum(pipeline.ask(q.question).answered for q in others) <= 0.1 * len(others)
