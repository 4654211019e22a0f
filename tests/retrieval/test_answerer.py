"""The answerer's decisions: the ranker's first choice is quoted first, and the answer-or-refuse decision
does not depend on how many other articles are indexed."""

import pytest

from tests.conftest import REPO, SAMPLE, SEEDS, assert_quotes_are_exact, require_shared
from tests.retrieval.test_pipeline import sample_questions, unanswerable_questions


def first_choice(pipeline, question: str) -> int:
    """The sentence id the answerer ranks first for a stand-alone question."""
    candidates, judgement = pipeline.judge(question)
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


ONE_ARTICLE = ["text/ostry-tram-line-opens.txt", "wire-2025-1109-storm-orla"]
NEAR_MISS = "an index of the tram story alone answers some questions about the same town that it does not hold " \
            "(the harbour wall's construction dates: 0.65; the unemployment rate: 0.56); see docs/benchmarks.md"


@pytest.mark.parametrize("article_id", ONE_ARTICLE)
def test_a_one_article_index_answers_its_questions_as_the_full_sample_does(tmp_path, encoder, sample_pipeline,
                                                                          article_id):
    alone = one_article_pipeline(tmp_path, encoder, article_id)
    for question in [q for q, article in sample_questions() if article == article_id]:
        decision = alone.ask(question)
        assert decision.answered and decision.sentences[0].citation.article_id == article_id, question
        assert sample_pipeline.ask(question).answered, question
        assert_quotes_are_exact(alone, decision)


@pytest.mark.parametrize("article_id", [pytest.param(ONE_ARTICLE[0], marks=pytest.mark.xfail(strict=True, reason=NEAR_MISS)),
                                        ONE_ARTICLE[1]])
def test_a_one_article_index_refuses_other_stories_and_near_misses(tmp_path, encoder, article_id):
    alone = one_article_pipeline(tmp_path, encoder, article_id)
    others = [q for q, article in sample_questions() if article != article_id] + unanswerable_questions()
    for question in others:
        assert not alone.ask(question).answered, question


def seed_alone_and_its_chat_questions(tmp_path, encoder):
    """A pipeline over the seed page alone, and the chat set's questions (both halves) about it and about others."""
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths
    from retrieval.evaluate import read_qa
    from retrieval.pipeline import Pipeline

    Indexer(tmp_path / "seed", encoder, show_progress=False).run(load_paths([require_shared(SEEDS)]))
    questions = read_qa([REPO / "tests" / "data" / f"chat_questions.{half}.jsonl" for half in ("fit", "test")])[1]
    seed = [q for q in questions if q.article_id == "000_abd5cfe2a4579f9a.txt"]
    return Pipeline(tmp_path / "seed", encoder), seed, [q for q in questions if q.article_id.startswith(("wire-", "text/"))]


def test_the_seed_page_alone_answers_paraphrased_questions(tmp_path, encoder):
    """The chat set's questions about the seed page, typed as people type, over that page alone, against the
    answer-quality issue's targets: at least 90% answered, at least 90% of other stories' questions refused."""
    pipeline, seed, others = seed_alone_and_its_chat_questions(tmp_path, encoder)
    assert len(seed) >= 15
    assert sum(pipeline.ask(q.question).answered for q in seed) >= 0.9 * len(seed)
    assert sum(pipeline.ask(q.question).answered for q in others) <= 0.1 * len(others)


@pytest.mark.xfail(strict=True, reason="measured 16 of the 19 (84%) with a gold sentence first; see docs/benchmarks.md")
def test_the_seed_page_alone_quotes_a_gold_sentence_first_for_85_percent(tmp_path, encoder):
    from retrieval.evaluate import gold_rank

    pipeline, seed, _ = seed_alone_and_its_chat_questions(tmp_path, encoder)
    assert sum(gold_rank(q, pipeline.ask(q.question)) == 1 for q in seed) >= 0.85 * len(seed)


TRAM_NEAR_MISSES = ["how much is a monthly pass for the tram", "how many drivers does the coastline tram employ",
                    "what time does the last tram leave at night"]


@pytest.mark.xfail(strict=True, reason="with the reader, P(answerable) for 'how many drivers does the coastline tram "
                                       "employ' is 0.60 and for 'what time does the last tram leave at night' 0.53 "
                                       "(0.73 and 0.48 without it); see docs/benchmarks.md")
def test_with_the_reader_a_near_miss_is_refused_on_a_one_article_index(tmp_path, encoder):
    """The tram story alone, asked what it does not say about the tram: no candidate reads as an answer. The
    same index still answers what the story does say."""
    from retrieval.pipeline import Pipeline
    from retrieval.reading import shipped_reading

    one_article_pipeline(tmp_path, encoder, ONE_ARTICLE[0])
    reading = Pipeline(tmp_path / "one", encoder, reading=shipped_reading())
    for question in TRAM_NEAR_MISSES:
        assert not reading.ask(question).answered, question
    for question in ["how much did the tram cost", "do kids pay on the tram"]:
        assert reading.ask(question).answered, question


def test_what_happened_asks_for_the_story_not_the_word_happened(sample_pipeline):
    """"what happened in storm orla" asks for the story's events in any words: "happened" is not a word its
    answer must hold (it had counted as a rare word missing from the storm story's lead, and as the focus)."""
    candidates, judged = sample_pipeline.judge("what happened in storm orla")
    first = candidates[judged.order[0]]
    title = sample_pipeline.index.db.execute("SELECT title FROM articles WHERE rowid = ?",
                                             (first.article_rowid,)).fetchone()[0]
    assert "Orla" in title and judged.answerability["unsupported"] == 0.0 and judged.confidence >= 0.5
