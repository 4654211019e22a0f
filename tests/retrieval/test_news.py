"""News-aware answers over a small dated corpus: time filters and recency, context, non-answers, duplicates."""

import datetime as dt
import json
import re
import sqlite3
import subprocess

import pytest

from embeddings.storage import store
from embeddings.indexer import Indexer
from embeddings.models import Article
from retrieval.pipeline import Pipeline
from tests.conftest import NEWSDESK, REPO, assert_quotes_are_exact

AS_OF = dt.date(1987, 3, 18)
WIRE = ("Dockworkers in Rotterdam extended their strike for a third week on Monday, union officials said. "
        "The stoppage has left more than forty ships waiting at anchor outside the port. "
        "Employers said they would not reopen talks until the pickets were lifted.")
ARTICLES = [
    Article(id="strike-jan", title="Rotterdam port strike begins", date=dt.date(1987, 1, 12), source="Wire",
            text="Rotterdam dockworkers walked out over pay on Monday, closing the port's container terminals.\n\n"
                 "The union wants a six percent rise in wages."),
    Article(id="strike-mar", title="Rotterdam dock strike drags on", date=dt.date(1987, 3, 16), source="Wire",
            text=WIRE + "\n\nShipping lines have begun diverting cargo to Antwerp."),
    Article(id="strike-mar-copy", title="Rotterdam dock strike drags on", date=dt.date(1987, 3, 17),
            source="Paper", text=WIRE + "\n\nShipping lines have begun diverting cargo to Antwerp and Hamburg."),
    Article(id="coffee-1986", title="Coffee quota talks", date=dt.date(1986, 11, 3), source="Wire",
            text="The International Coffee Organization failed to agree export quotas at its London meeting. "
                 "Brazil refused to accept a smaller share of the market."),
    Article(id="coffee-mar", title="Coffee prices", date=dt.date(1987, 3, 17), source="Wire",
            text="Coffee futures were little changed in quiet trading. Dealers said the market lacked direction."),
    Article(id="coffee-undated", title="Coffee growers", text="Colombian coffee growers met in Bogota. "
            "They discussed the quota talks in London and the prices paid for beans."),
    Article(id="teaser", title="Port news", date=dt.date(1987, 3, 10), source="Blog",
            text="Why did the Rotterdam dockworkers strike?\n\nRead more: why the Rotterdam dockworkers went on "
                 "strike over pay\n\nThe Rotterdam dockworkers went on strike over pay and working hours."),
]


@pytest.fixture(scope="module")
def news_index(tmp_path_factory, encoder):
    root = tmp_path_factory.mktemp("news") / "index"
    report = Indexer(root, encoder, show_progress=False).run(ARTICLES)
    assert not report.problems
    return root


@pytest.fixture(scope="module")
def news(news_index, encoder):
    return Pipeline(news_index, encoder)


def ask(pipeline, question, **kw):
    answer = pipeline.ask(question, top=kw.pop("top", 5), abstain=False, as_of=AS_OF, **kw)
    assert_quotes_are_exact(pipeline, answer)
    return answer


def cited(answer):
    return [s.citation.article_id for s in answer.sentences]


def dated(article_ids):
    """The cited articles that have a date (time words bound those; undated ones are never dropped)."""
    return set(article_ids) - {"coffee-undated"}


def test_an_explicit_month_filters_inside_the_search(news):
    answer = ask(news, "Why did the Rotterdam dockworkers strike in January?")
    assert cited(answer)[0] == "strike-jan" and dated(cited(answer)) == {"strike-jan"}
    assert not dated(cited(ask(news, "What happened to coffee quotas in November?"))) - {"coffee-1986"}


def test_yesterday_and_since_monday(news):
    assert dated(cited(ask(news, "What did coffee futures do yesterday?"))) <= {"coffee-mar", "strike-mar-copy"}
    assert "strike-jan" not in cited(ask(news, "What has happened to the Rotterdam strike since Monday?"))


def test_vague_recency_favours_recent_articles_but_a_perfect_old_match_still_wins(news):
    latest = ask(news, "What is the latest on the Rotterdam dockworkers strike?")
    assert latest.sentences[0].citation.date >= dt.date(1987, 3, 1)
    old = ask(news, "Why did the International Coffee Organization fail to agree export quotas recently?")
    assert cited(old)[0] == "coffee-1986"


def test_undated_articles_are_neither_dropped_nor_favoured_by_recency(news):
    answer = ask(news, "What did Colombian coffee growers discuss recently?", top=3)
    assert cited(answer)[0] == "coffee-undated"
    # An explicit time word bounds the dated articles only: an undated one may still answer.
    in_march = cited(ask(news, "What did Colombian coffee growers discuss in March?"))
    assert in_march[0] == "coffee-undated" and "coffee-1986" not in in_march


def test_each_answer_carries_its_title_and_previous_sentence(news):
    answer = ask(news, "How many ships are waiting outside Rotterdam?")
    first = answer.sentences[0]
    assert first.text.startswith("The stoppage has left more than forty ships")
    assert first.context.title == "Rotterdam dock strike drags on"
    assert first.context.previous.startswith("Dockworkers in Rotterdam extended their strike")
    assert answer.sentences[0].model_dump(mode="json")["context"] == {"title": first.context.title,
                                                                      "previous": first.context.previous}


def test_questions_and_teasers_come_after_statements(news):
    answer = ask(news, "Why did the Rotterdam dockworkers strike?", top=10)
    kinds = [s.text.startswith(("Why did", "Read more")) for s in answer.sentences]
    assert not kinds[0] and kinds == sorted(kinds)


def test_a_duplicate_story_is_quoted_once_from_its_earliest_version(news):
    answer = ask(news, "How many ships are waiting outside Rotterdam?", top=3)
    texts = [s.text for s in answer.sentences]
    assert len(texts) == len(set(texts))
    first = answer.sentences[0]
    assert first.citation.article_id == "strike-mar"
    assert [c.article_id for c in first.also_reported_by] == ["strike-mar-copy"]
    assert "also reported by: Rotterdam dock strike drags on (Paper, 1987-03-17)" in render_text(answer)


def render_text(answer):
    from bot import render

    return render.to_text(answer)


def test_reindexing_keeps_groups_up_to_date(tmp_path, encoder):
    root = tmp_path / "index"
    Indexer(root, encoder, show_progress=False).run(ARTICLES[1:3])
    pipeline = Pipeline(root, encoder)
    assert ask(pipeline, "How many ships are waiting outside Rotterdam?").sentences[0].also_reported_by
    changed = ARTICLES[2].model_copy(update={"text": "Coffee futures fell sharply in London on heavy selling."})
    Indexer(root, encoder, show_progress=False).run([ARTICLES[1], changed])
    assert not any(s.also_reported_by for s in ask(pipeline, "How many ships are waiting outside Rotterdam?").sentences)


def test_an_index_from_before_these_columns_is_refused_then_migrated_by_a_write(tmp_path, news_index, encoder):
    import shutil

    root = tmp_path / "old"
    shutil.copytree(news_index, root)
    db = sqlite3.connect(root / store.DB_FILE)
    db.execute("ALTER TABLE sentences DROP COLUMN kind")
    db.commit()
    db.close()
    with pytest.raises(store.IndexError_, match="older newsdesk.*--rebuild"):
        Pipeline(root, encoder).index
    extra = Article(id="new", title="New", text="Grain prices rose on Tuesday in Chicago.", date=AS_OF)
    Indexer(root, encoder, show_progress=False).run([extra])
    answer = ask(Pipeline(root, encoder), "Why did the Rotterdam dockworkers strike?", top=10)
    assert not answer.sentences[0].text.startswith(("Why did", "Read more"))


def test_repl_dialogue_with_relative_dates(news):
    from bot.repl import handle_line
    from retrieval.conversation import Conversation

    conversation = Conversation()
    reply = handle_line(news, conversation, "What did coffee futures do yesterday?", 1, False, as_of=AS_OF)
    assert reply.startswith("[1] Coffee prices\n    “Coffee futures were little changed")
    reply = handle_line(news, conversation, "Why did Rotterdam dockworkers walk out in January?", 1, False,
                        as_of=AS_OF)
    assert "Rotterdam port strike begins" in reply and "strike drags on" not in reply


def test_ask_as_of_and_batch_as_of_end_to_end(news_index):
    question = "What did Rotterdam dockworkers do yesterday?"
    lines = [json.dumps({"id": 1, "question": question, "as_of": "1987-01-13"}),
             json.dumps({"id": 2, "question": question}), json.dumps({"id": 3, "question": "x", "as_of": "soon"})]
    result = subprocess.run([*NEWSDESK, "ask", "--json", "--no-abstain", "--index", str(news_index),
                             "--as-of", "1987-03-17"], input="\n".join(lines), capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert dated(s["citation"]["article_id"] for s in out[0]["sentences"]) == {"strike-jan"}
    assert dated(s["citation"]["article_id"] for s in out[1]["sentences"]) <= {"strike-mar", "teaser"}
    assert out[2]["line"] == 3 and result.returncode == 1


# The stories of the set's series: every question meets near-identical stories from other weeks
# (the same selection as the docs/benchmarks.md command for this set).
REUTERS_SERIES = re.compile("grain ships|money supply|green coffee|grain handler|taiwan issues|sugar sales|"
                            "intervention board|certificates of deposit", re.IGNORECASE)


def test_time_sensitive_reuters_set_reads_question_dates(tmp_path, encoder):
    """The shipped set resolves against each question's `question_date`; Reuters is read from ../shared."""
    from embeddings.loaders import load_paths
    from retrieval.evaluate import evaluate, read_qa
    from tests.conftest import SHARED, require_shared

    corpus = sorted(require_shared(SHARED / "data" / "articles").glob("reuters21578.part*.jsonl"))
    _, questions = read_qa([REPO / "tests" / "data" / "reuters_time.jsonl"])
    assert all(q.question_date and q.spans for q in questions)
    wanted = {q.article_id for q in questions}
    articles = [a for a in load_paths(corpus) if getattr(a, "id", None) in wanted or REUTERS_SERIES.search(a.title)]
    Indexer(tmp_path / "index", encoder, show_progress=False).run(articles)
    timed = evaluate(Pipeline(tmp_path / "index", encoder), questions, 0.5).report()
    plain = evaluate(Pipeline(tmp_path / "index", encoder, time_aware=False), questions, 0.5).report()
    assert timed["P@1"] > plain["P@1"] + 0.25 and timed["R@5"] == 1.0
