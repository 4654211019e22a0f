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


def test_a_date_filter_says_how_many_undated_articles_it_left_out(tmp_path, encoder):
    from bot import render
    from embeddings.indexer import Indexer
    from embeddings.models import Article
    from retrieval.pipeline import Pipeline

    articles = [Article(id="dated", title="Ferry returns", text="The ferry to Ostry returned to service.",
                        date=dt.date(2025, 5, 1)),
                Article(id="undated-1", title="Ferry fares", text="Ferry fares to Ostry will rise by 10 percent."),
                Article(id="undated-2", title="Ferry crew", text="The ferry crew threatened to strike.", source="Post")]
    Indexer(tmp_path / "index", encoder, show_progress=False).run(articles)
    pipeline = Pipeline(tmp_path / "index", encoder)
    answer = pipeline.ask("since:2025-01-01 how much will ferry fares rise", abstain=False)
    assert answer.undated_left_out == 2
    assert render.to_text(answer).endswith("\n2 articles without a date were not searched.")
    assert pipeline.ask("until:2030 source:post ferry crew", abstain=False).undated_left_out == 1
    assert pipeline.ask("how much will ferry fares rise").undated_left_out == 0  # no date filter, nothing left out
    refused = pipeline.ask("since:2026-01-01 how much will ferry fares rise")
    assert render.to_text(refused) == f"{render.NOT_COVERED}\n2 articles without a date were not searched."
    assert render.answer_html(refused) == [f"{render.NOT_COVERED}\n<i>2 articles without a date were not searched.</i>"]



def test_date_bounds_select_by_the_array_of_dates_exactly_what_the_sql_selects(tmp_path, encoder):
    """A date-only filter is applied by comparing each article's date, not by listing row ids from SQL: the same
    articles, bounds included, the undated ones only when the filter lets them through."""
    from embeddings.indexer import Indexer
    from embeddings.models import Article
    from embeddings.storage.reader import IndexReader
    from retrieval.retriever import allowed_articles

    dates = [dt.date(2024, 12, 31), dt.date(2025, 1, 1), dt.date(2025, 6, 30), dt.date(2025, 7, 1), None]
    Indexer(tmp_path / "index", encoder, show_progress=False).run(
        [Article(id=f"a{i}", title=f"Story {i}", text=f"The council met for the {i}th time.", date=d)
         for i, d in enumerate(dates)])
    index = IndexReader.open(tmp_path / "index")
    stored = [row[0] for row in index.db.execute("SELECT rowid FROM articles ORDER BY rowid")]
    for since, until in [(dt.date(2025, 1, 1), None), (None, dt.date(2025, 6, 30)),
                         (dt.date(2025, 1, 1), dt.date(2025, 6, 30)), (dt.date(2026, 1, 1), None)]:
        for undated in (False, True):
            filters = Filters(since=since, until=until, undated=undated)
            by_dates, by_sql = allowed_articles(index, filters), index.articles_where(filters.sql())
            selected = [r < len(by_sql) and bool(by_sql[r]) for r in stored]
            assert [bool(by_dates[r]) for r in stored] == selected and by_dates.sum() == sum(selected), filters
            assert selected[-1] == undated  # the undated article
