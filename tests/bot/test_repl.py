"""The REPL's replies rendered to a fixed width, without a terminal: wrapping, grouping, lead-ins, :sources."""

from __future__ import annotations

import pytest

from bot import render
from bot.repl import handle_line
from retrieval.conversation import Conversation
from retrieval.models import AnswerSentence, Citation, Context

WIDTH = 48
KESTREL_URL = "https://www.coastlinecourier.example/technology/2026/03/12/kestrel-robotics-delivery-drones"


@pytest.fixture
def chat(sample_pipeline):
    """Ask the sample index one line after another, in one conversation, rendered WIDTH columns wide."""
    conversation = Conversation()
    return lambda line: handle_line(sample_pipeline, conversation, line, 3, colour=False, width=WIDTH)


def test_lines_break_between_words_and_never_inside_a_url(sample_pipeline):
    answer = sample_pipeline.ask("who started kestrel robotics", top=3)
    wrapped, flat = render.to_text(answer, width=WIDTH), render.to_text(answer)
    assert wrapped.split() == flat.split()  # the same words in the same order: none was cut in two
    assert KESTREL_URL in wrapped.split()
    for line in wrapped.splitlines():
        assert len(line) <= WIDTH or len(line.split()) == 1  # only a single word (the URL) may overflow


def test_quotes_from_one_article_sit_under_its_headline_once(chat):
    reply = chat("who started kestrel robotics")
    quotes = [line for line in reply.splitlines() if line.lstrip().startswith("“")]
    assert len(quotes) >= 2
    assert reply.count("Kestrel Robotics to test delivery drones") == 2  # the group's heading and its source


def test_a_lead_in_starts_at_a_word_boundary():
    previous = "The council had agreed to fund the new line after a long debate about its route through town."
    for chars in range(20, len(previous)):
        lead = render.last_words(previous, chars)
        assert len(lead) <= chars and lead.startswith("…")
        assert f" {lead[1:]}" in f" {previous}"  # starts where a word starts
    sentence = AnswerSentence(text="It opened on Monday.", score=0.9,
                              citation=Citation(article_id="a", title="Tram opens", start=0, end=20),
                              context=Context(title="Tram opens", previous=previous))
    assert render.lead_in(sentence, chars=40) == "Tram opens: …its route through town."


def test_sources_after_a_refused_question_show_the_last_answered_ones(chat):
    assert chat(":sources") == "No sources yet: ask a question first."
    chat("who started kestrel robotics")
    assert chat("what is the boiling point of tungsten") == render.NOT_COVERED
    reply = chat(":sources")
    assert reply.startswith("The last question was not answered.")
    assert "“who started kestrel robotics”" in reply and "[1] Kestrel Robotics" in reply


def test_sources_when_nothing_was_answered_yet(chat):
    chat("what is the boiling point of tungsten")
    assert chat(":sources") == "The last question was not answered, so it has no sources."


def test_a_very_narrow_terminal_still_gets_whole_words(sample_pipeline):
    answer = sample_pipeline.ask("who started kestrel robotics", top=1)
    narrow = render.to_text(answer, width=5)
    assert narrow.split() == render.to_text(answer).split()
    assert max(len(line) for line in narrow.splitlines() if " " in line.strip()) <= render.MIN_WIDTH
