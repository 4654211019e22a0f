"""Time words in questions: each kind resolved against a reference date, and taken out of the searched text."""

import datetime as dt

import pytest

from embeddings.sentence_kinds import classify
from retrieval.timeparse import parse_time

AS_OF = dt.date(1987, 3, 18)  # a Wednesday


@pytest.mark.parametrize("question, since, until", [
    ("What did the minister say yesterday?", "1987-03-17", "1987-03-17"),
    ("What happened today?", "1987-03-18", "1987-03-18"),
    ("Oil prices last week?", "1987-03-09", "1987-03-15"),
    ("Oil prices last month?", "1987-02-01", "1987-02-28"),
    ("Oil prices this month?", "1987-03-01", "1987-03-18"),
    ("Coffee exports this year?", "1987-01-01", "1987-03-18"),
    ("Coffee exports last year?", "1986-01-01", "1986-12-31"),
    ("How much did coffee cost in March?", "1987-03-01", "1987-03-31"),
    ("How much did coffee cost in May 1986?", "1986-05-01", "1986-05-31"),
    ("Who won the election in 2017?", "2017-01-01", "2017-12-31"),
    ("What has OPEC said since Monday?", "1987-03-16", "1987-03-18"),
    ("What has OPEC said since March 2?", "1987-03-02", "1987-03-18"),
])
def test_explicit_ranges_become_filters(question, since, until):
    timed = parse_time(question, AS_OF)
    assert timed.filters.since == dt.date.fromisoformat(since)
    assert timed.filters.until == (dt.date.fromisoformat(until) if until else None)
    assert timed.recent is None
    assert not any(word in timed.text.lower() for word in ("yesterday", "today", " last ", " since ", " in 2017"))


def test_a_month_not_yet_reached_this_year_is_last_years():
    assert parse_time("Sugar output in April?", AS_OF).filters.since == dt.date(1986, 4, 1)


@pytest.mark.parametrize("question", ["What is the latest on the strike?", "Any news on the strike recently?",
                                      "What happened to the strike this week?"])
def test_vague_words_favour_recent_articles_without_filtering(question):
    timed = parse_time(question, AS_OF)
    assert timed.filters.is_empty() and timed.recent == AS_OF
    assert "strike" in timed.text and not any(w in timed.text for w in ("latest", "recently", "this week"))


def test_plain_questions_and_lookalike_words_are_left_alone():
    for question in ("Who may join the union?", "What is in the Mayfair report?", "Who founded Kestrel Robotics?"):
        timed = parse_time(question, AS_OF)
        assert timed.text == question and timed.filters.is_empty() and timed.recent is None


def test_now_is_the_default_reference_date():
    assert parse_time("What happened today?").filters.since == dt.date.today()


@pytest.mark.parametrize("sentence, kind", [
    ("Who will pay for the new bridge?", "question"),
    ("Read more: Why the port is closing", "teaser"),
    ("➤ Why does the Fed care about jobs?", "teaser"),
    ("Here's when the vote will take place", "teaser"),
    ("Photo: Getty Images", "caption"),
    ("By Jane Doe, Reuters", "byline"),
    ("Reporting by Tom Brown; Editing by Ann Lee", "byline"),
    ("By Friday, the strike had ended.", "statement"),
    ("\"Who will pay?\" he asked.", "statement"),
    ("Crude oil rose 50 cents a barrel.", "statement"),
])
def test_sentence_kinds(sentence, kind):
    assert classify(sentence) == kind
