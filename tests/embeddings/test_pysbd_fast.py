"""The one-pass abbreviation scan splits exactly as pysbd does: on hard cases, the sample and real news."""

import random
import re
import string

import pysbd
import pytest

from embeddings.loaders import load_paths
from embeddings.models import Article
from embeddings.pysbd_fast import CASE_FOLDS_TO_ASCII, split
from embeddings.segment import paragraph_spans
from tests.conftest import SAMPLE, SHARED, require_shared

HARD = [
    "Mr. Smith met Dr. Jones at 3 p.m. on Jan. 5. They talked. Gov. Brown was not there.",
    "MR. SMITH and mr. smith and Mr.Smith went to the U.S. He said no. No. 5 is next. no. 6 too.",
    "Shares of Acme Co. rose 5 pct. Acme Inc. said so. Prof. Lee, Sen. Kerry and Rep. Lee agreed.",
    "The plan, i.e. the one from the U.S.A. in Feb., was e.g. better. Ph.D. holders? D.Phil. too.",
    "a. first item b. second item c. third item. (a) one (b) two. 1. Alpha 2. Beta 3. Gamma.",
    "Approx. 40 pct of St. Louis's vs. 30 pct of Ft. Worth's est. 20 bln dlrs. Fig. 3 shows it.",
    "He said {no} thing. {mr} Brown left. Fig. {a} 3.",
    "The \u212aelvin sign and long \u017f, dotless \u0131 and \u0130stanbul. No. 3 is here. Mr. X left.",
    'He said: "We agree." Then he left... And then? "Yes!" she said. Lt. Col. Ames (ret.) nodded.',
    "Jan. Feb. Mar. Apr. Jun. Jul. Aug. Sep. Sept. Oct. Nov. Dec. were all named. Mon. too.",
    "Profits rose.Sales fell. Costs (see p. 4) were flat; margins: 5.5 pct. U.K. and E.U. deals.",
    "  Leading space. Trailing space.  \tTab inside.\tA\nnewline inside. Last",
]


@pytest.fixture(scope="module")
def reference():
    return pysbd.Segmenter(language="en", clean=False)


@pytest.mark.parametrize("paragraph", HARD)
def test_hard_paragraphs_split_as_pysbd_splits_them(reference, paragraph):
    assert split(paragraph) == reference.processor(paragraph).process()


def test_sample_paragraphs_split_as_pysbd_splits_them(reference):
    paragraphs = [a.text[s:e] for a in load_paths([SAMPLE]) for s, e in paragraph_spans(a.text)]
    assert len(paragraphs) > 50
    for paragraph in paragraphs:
        assert split(paragraph) == reference.processor(paragraph).process(), paragraph


def test_news_paragraphs_split_as_pysbd_splits_them(reference):
    """3,000 paragraphs of the BBC and Reuters articles as newsdesk reads them (all 60,106 that reach pysbd
    were checked once, all equal)."""
    articles = [a for a in load_paths(sorted(require_shared(SHARED / "data" / "articles").glob("*.jsonl")))
                if isinstance(a, Article)]
    paragraphs = [a.text[s:e] for a in articles for s, e in paragraph_spans(a.text)]
    multi = [p for p in paragraphs if re.search(r"[.!?]\s", p)]
    for paragraph in random.Random(5).sample(multi, min(3000, len(multi))):
        assert split(paragraph) == reference.processor(paragraph).process(), paragraph


def test_every_character_that_case_folds_to_ascii_is_left_to_pysbd():
    """The word index compares str.lower() of ASCII letters; these are the characters where that is not
    what pysbd's case-insensitive regexes do, so a paragraph holding one takes pysbd's own path."""
    chars = "".join(chr(c) for c in range(128, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    folds = {c for letter in string.ascii_letters for c in re.findall(letter, chars, flags=re.IGNORECASE)}
    folds |= {c for c in chars if len(c.lower()) != 1 or c.lower().isascii()}
    assert folds == CASE_FOLDS_TO_ASCII
