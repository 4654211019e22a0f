"""Sentence splitting keeps exact offsets; passages overlap and stay inside one article."""

import pytest

from embeddings.models import Article
from embeddings.segment import make_passages, paragraph_spans, split_sentences

TEXT = (
    "  Mr. Smith went to Washington on Jan. 5. He met the U.S. envoy at 3 p.m. and said: \"We agree.\"\n\n\n"
    "The second\u00a0paragraph starts here. It has three sentences! Does it?\n\n"
    "Last one."
)


def test_sentences_point_into_the_article_text():
    article = Article(id="a", text=TEXT)
    sentences = split_sentences(article)
    assert [s.text for s in sentences] == [
        "Mr. Smith went to Washington on Jan. 5.",
        "He met the U.S. envoy at 3 p.m. and said: \"We agree.\"",
        "The second\u00a0paragraph starts here.",
        "It has three sentences!",
        "Does it?",
        "Last one.",
    ]
    for s in sentences:
        assert TEXT[s.start : s.end] == s.text
    assert [s.paragraph for s in sentences] == [0, 0, 1, 1, 1, 2]
    assert [s.index for s in sentences] == list(range(6))


def test_paragraph_spans_skip_blank_runs():
    assert [TEXT[a:b][:10] for a, b in paragraph_spans(TEXT)] == ["Mr. Smith ", "The second", "Last one."]


def test_passages_overlap_and_cover_every_sentence():
    article = Article(id="a", text=" ".join(f"Sentence number {i}." for i in range(10)))
    sentences = split_sentences(article)
    passages = make_passages(article, sentences, size=4, overlap=1)
    assert [(p.first_sentence, p.last_sentence) for p in passages] == [(0, 3), (3, 6), (6, 9)]
    for p in passages:
        assert article.text[p.start : p.end] == p.text
        assert p.article_id == "a"


def test_short_article_gives_one_passage():
    article = Article(id="a", text="Only one sentence here.")
    passages = make_passages(article, split_sentences(article), size=4, overlap=1)
    assert [(p.first_sentence, p.last_sentence) for p in passages] == [(0, 0)]


def test_bad_passage_settings_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        make_passages(Article(id="a", text="x."), [], size=2, overlap=2)


def test_paragraphs_taken_whole_are_exactly_those_pysbd_leaves_whole():
    from embeddings.segment import _pysbd_spans, _sentence_spans, paragraph_spans
    from embeddings.loaders import load_paths
    from tests.conftest import SAMPLE

    tricky = ["Worse, how are sales rising when the ECU has declined only 11 pct against the yen.?",
              '"I think he will honor that commitment," Baldrige told the subcommittee."',
              "Gusts reached 96 km/h at Saltings Point on Sunday", "Prices rose; traders were surprised!"]
    paragraphs = tricky + [a.text[s:e] for a in load_paths([SAMPLE]) for s, e in paragraph_spans(a.text)]
    whole = [p for p in paragraphs if list(_sentence_spans(p)) == [(0, len(p))]]
    assert len(whole) >= 10, "the fast path is used"
    for paragraph in paragraphs:
        assert list(_sentence_spans(paragraph)) == list(_pysbd_spans(paragraph)), paragraph
