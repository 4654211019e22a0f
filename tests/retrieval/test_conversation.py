"""Follow-up questions: scripted dialogues, each turn checked; stand-alone questions are not dragged back."""

import pytest

from retrieval.conversation import Conversation, follow_up_query, leans_back, previous_holds_subject
from retrieval.models import Answer, AnswerSentence, Citation
from tests.conftest import SEEDS, assert_quotes_are_exact, require_shared


@pytest.mark.parametrize("question", ["When did it open?", "And China?", "What did he say about the harbour?",
                                      "When was that?", "What about the women's race?", "Why?"])
def test_questions_that_lean_on_the_previous_turn(question):
    assert leans_back(question)


@pytest.mark.parametrize("question", ["Who founded Kestrel Robotics?", "what did tillerson say about north korea",
                                      "Who founded Kestrel Robotics and when did they start?",
                                      "How many homes lost electricity during Storm Orla?"])
def test_questions_that_stand_alone(question):
    assert not leans_back(question)


def test_follow_up_borrows_key_words_and_prefers_the_cited_article():
    citation = Citation(article_id="a1", title="Kestrel Robotics to test delivery drones", start=0, end=5)
    previous = Answer(question="who founded kestrel robotics", answered=True,
                      sentences=[AnswerSentence(text="Kestrel", score=0.9, citation=citation)])
    query = follow_up_query("when did they start", previous)
    assert query.text == "when did they start kestrel robotics" and query.prefer == {"a1"}


def test_a_pronoun_refers_back_even_to_a_subject_the_story_words_differently(sample_pipeline):
    run_dialogue(sample_pipeline, [
        ("when does the kestrel drone trial start", "html/kestrel-robotics-delivery-drones.html", ["1 April 2026"]),
        ("who is their boss", "html/kestrel-robotics-delivery-drones.html", []),
    ])


def test_a_follow_up_must_not_bring_a_subject_the_previous_article_lacks():
    drones = "Kestrel Robotics to test delivery drones\nThe six-month trial starts on 1 April."
    assert previous_holds_subject("when does their trial start", drones)
    assert previous_holds_subject("how long will it last", drones)
    assert not previous_holds_subject("was there a storm", drones)
    assert not previous_holds_subject("how much did the tram cost", drones)


def test_a_question_on_another_story_of_the_same_town_switches_story(sample_pipeline):
    run_dialogue(sample_pipeline, [
        ("what time did the first tram leave", "text/ostry-tram-line-opens.txt", ["6.05"]),
        ("who got elected in ostry", "scraped/northline-ostry-mayor-election.txt", ["Pauline Marsh"]),
        ("what did she promise", "scraped/northline-ostry-mayor-election.txt", ["promised"]),
    ])


def run_dialogue(pipeline, turns):
    """Ask each (question, expected article, words the first sentence must hold) in one conversation."""
    conversation = Conversation()
    for question, article, words in turns:
        answer = pipeline.ask(question, conversation=conversation)
        if article is None:
            assert not answer.answered, question
            continue
        assert answer.answered, question
        first = answer.sentences[0]
        assert first.citation.article_id == article, (question, first.text)
        for word in words:
            assert word in first.text, (question, first.text)
        assert_quotes_are_exact(pipeline, answer)


def test_dialogue_over_the_sample_corpus(sample_pipeline):
    run_dialogue(sample_pipeline, [
        ("Who founded Kestrel Robotics?", "html/kestrel-robotics-delivery-drones.html", ["Montrose"]),
        ("When does their trial start?", "html/kestrel-robotics-delivery-drones.html", ["1 April 2026"]),
        ("How long will it last?", "html/kestrel-robotics-delivery-drones.html", ["six-month trial"]),
        ("How many homes lost electricity during Storm Orla?", "wire-2025-1109-storm-orla", ["4,200"]),
        ("How much rain fell?", "wire-2025-1109-storm-orla", ["rain"]),
        ("Where were the gusts measured?", "wire-2025-1109-storm-orla", ["Saltings Point"]),
        ("Who painted the Mona Lisa?", None, []),  # stands alone, and the articles do not say
    ])


SWITCHES = [
    ("who started kestrel robotics?", "html/kestrel-robotics-delivery-drones.html", ["Montrose"]),
    ("how much did the tram cost", "text/ostry-tram-line-opens.txt", ["$310 million"]),
    ("was there a storm?", "wire-2025-1109-storm-orla", []),
    ("which party does the new mayor belong to", "scraped/northline-ostry-mayor-election.txt", ["Green Party"]),
]
# The issue's other examples, measured: "do kids pay on the tram?" is refused (P(answerable) 0.42), and the
# council's decision and Brightmoor's boss are answered with another sentence of the right story.
MISSED = [
    ("do kids pay on the tram?", "text/ostry-tram-line-opens.txt", ["children"]),
    ("what did the council decide about the harbour", "wire-2025-0214-harbour-wall", ["voted"]),
    ("who is the boss of brightmoor", "markdown/brightmoor-battery-funding.md", ["Rahul Menon"]),
]


def test_a_conversation_that_switches_topic_every_turn_is_not_dragged_back(sample_pipeline):
    """Typed as people type, in lower case: each question finds its own story, not the previous one."""
    run_dialogue(sample_pipeline, SWITCHES)


@pytest.mark.xfail(strict=True, reason="the examples in MISSED are not answered right yet; see docs/benchmarks.md")
def test_the_issues_other_examples_in_one_conversation(sample_pipeline):
    run_dialogue(sample_pipeline, SWITCHES + MISSED)


TILLERSON = ("the first sentence quoted for 'What did Tillerson urge China to do?' is 'Tillerson made the comments "
             "at a press conference ...' (the ranker's focus feature outweighs the copied words; see docs/benchmarks.md)")


@pytest.mark.xfail(strict=True, reason=TILLERSON)
def test_dialogue_over_the_seed_page(tmp_path, encoder):
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths
    from retrieval.pipeline import Pipeline

    Indexer(tmp_path / "index", encoder, show_progress=False).run(load_paths([require_shared(SEEDS)]))
    pipeline = Pipeline(tmp_path / "index", encoder)
    seed = "000_abd5cfe2a4579f9a.txt"
    run_dialogue(pipeline, [
        ("What did Tillerson urge China to do?", seed, ["pressure North Korea"]),
        ("What did he call the top security threat?", seed, ["top security threat"]),
        ("What did Mattis vow at the press conference?", seed, ["Mattis", "defend"]),
    ])


@pytest.fixture(scope="module")
def reading_pipeline(sample_index, encoder):
    from retrieval.pipeline import Pipeline
    from retrieval.reading import shipped_reading

    return Pipeline(sample_index, encoder, reading=shipped_reading())


def test_with_the_reader_a_follow_up_is_not_answered_with_the_sentence_quoted_before(reading_pipeline):
    """"and how long is it" after the tram's cost: the tram story again, but not the cost sentence first (the
    reader picks the journey time or the length; both read as answers)."""
    conversation = Conversation()
    cost = reading_pipeline.ask("how much did the tram cost", conversation=conversation)
    length = reading_pipeline.ask("and how long is it", conversation=conversation)
    assert cost.answered and "$310 million" in cost.sentences[0].text
    assert length.answered and length.sentences[0].citation.article_id == "text/ostry-tram-line-opens.txt"
    assert length.sentences[0].sentence_id != cost.sentences[0].sentence_id, length.sentences[0].text


@pytest.mark.xfail(strict=True, reason="'was there a big storm recently' is answered from the July 2026 heatwave story "
                                       "('the storms could bring local flash flooding'): 'recently' favours the newest "
                                       "article; see docs/benchmarks.md")
def test_with_the_reader_a_refused_or_new_turn_stays_on_the_story_it_means(reading_pipeline):
    run_dialogue(reading_pipeline, [
        ("who is building the new bakery in millbrook", "wire-2025-0506-tallow-finch-factory", ["Tallow & Finch"]),
        ("was there a big storm recently", "wire-2025-1109-storm-orla", []),
        ("how many people had to leave their homes", "wire-2025-1109-storm-orla", ["60 homes"]),
    ])
