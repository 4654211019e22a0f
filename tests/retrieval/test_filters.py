"""Date and source filters from flags and inline words, applied inside the search."""

import datetime as dt

import pytest

from retrieval.filters import Filters, parse_date, parse_inline

HARBOUR = "How much will the Harrowgate Bay harbour wall repair cost?"


def test_inline_words_become_filters():
    rest, filters = parse_inline('since:2017-06 source:"Deutsche Welle" who said what? until:2018')
    assert rest == "who said what?"
    assert filters == Filters(since=dt.date(2017, 6, 1), until=dt.date(2018, 1, 1), source="Deutsche Welle")
    assert parse_inline("until:yesterday what?") == ("until:yesterday what?", Filters())


def test_bad_dates_are_refused_with_the_formats():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("last week")


def test_filters_apply_inside_the_search(sample_pipeline):
    assert sample_pipeline.ask(HARBOUR).sentences[0].citation.article_id == "wire-2025-0214-harbour-wall"
    # The harbour story is from 2025: with a 2026 filter the answer must come from 2026 or not at all.
    for answer in (sample_pipeline.ask(HARBOUR, filters=Filters(since=dt.date(2026, 1, 1)), abstain=False),
                   sample_pipeline.ask("since:2026-01-01 " + HARBOUR, abstain=False)):
        assert answer.sentences, "filtering inside the search still finds sentences from other articles"
        for sentence in answer.sentences:
            assert sentence.citation.date >= dt.date(2026, 1, 1)


def test_source_filter_and_undated_articles(sample_pipeline):
    answer = sample_pipeline.ask("Who won the election?", filters=Filters(source="northline news"), abstain=False)
    assert {s.citation.source for s in answer.sentences} == {"Northline News"}
    dated = sample_pipeline.ask("until:2030-01-01 bees wildflower strips", abstain=False)
    assert all(s.citation.date is not None for s in dated.sentences)
    assert sample_pipeline.ask(HARBOUR, filters=Filters(source="No Such Paper")).sentences == []
