"""Answer-type evidence: what a question asks for, and what a sentence holds beyond the question's words."""

import pytest

from retrieval.answer_types import NAME, NUMBER, PLACE, TIME, expected_type, types_held
from retrieval.words import words


@pytest.mark.parametrize("question, kind", [
    ("who started kestrel robotics", NAME), ("which party does the new mayor belong to", NAME),
    ("where were the gusts measured", PLACE), ("what town is the factory in", PLACE),
    ("when does the drone trial start", TIME), ("what year was brightmoor founded", TIME),
    ("how much did the tram cost", NUMBER), ("how many homes lost power in the storm", NUMBER),
    ("whats the fare for kids on the tram", NUMBER), ("do kids pay on the tram", None),
    ("why did the council vote for the repair", None),
])
def test_the_kind_of_answer_a_question_asks_for(question, kind):
    assert expected_type(question) == kind


def held(sentence: str, question: str) -> set[str]:
    return types_held(sentence, set(words(question)))


def test_a_sentence_holds_a_type_only_through_words_the_question_lacks():
    founders = "Kestrel was founded in 2022 by two former university engineers, Aisha Montrose and Felix Harland."
    assert {NAME, TIME, NUMBER} <= held(founders, "who started kestrel robotics")
    assert NAME not in held("Kestrel Robotics is based in the town.", "who started kestrel robotics")
    assert NUMBER in held("The line cost $310 million to build.", "how much did the tram cost")
    assert NUMBER not in held("The tram opened on time.", "how much did the tram cost")


def test_dates_places_and_modal_may():
    assert TIME in held("The trial starts on 1 April 2026.", "when does the trial start")
    assert TIME in held("The first tram left at 6.05 a.m. on Monday.", "when did the first tram leave")
    assert TIME not in held("The council may decide later.", "when will the council decide")
    assert PLACE in held("Gusts were measured on the coast at Saltings Point.", "where were the gusts measured")
    assert PLACE not in held("Gusts were measured by the weather office.", "where were the gusts measured")
    based = held("Kestrel Robotics, a start-up based in Harrowgate Bay, won permission.", "who started kestrel robotics")
    assert PLACE in based and NAME not in based  # a place is not who
