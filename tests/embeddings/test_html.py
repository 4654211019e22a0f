"""Web pages give their article body and metadata without the page around it; non-articles give None."""

import datetime as dt
import gzip
import json

import pytest
import trafilatura

from embeddings.html import html_to_page
from tests.conftest import SHARED

BENCHMARK = SHARED / "data" / "html" / "article_extraction_benchmark"

BODY = [
    "Heavy rain has forced thousands of people to leave their homes in New South Wales, officials said on "
    "Friday, as rivers burst their banks across the region.",
    "The state’s premier said the situation was “very serious” and warned that more rain was expected over "
    "the weekend, with evacuation orders extended to new areas.",
    "“We have never seen anything like this,” said one café owner, who had lived in the town for 40 years "
    "and watched the water rise through the night.",
    "Emergency services received more than 2,000 calls for help overnight, and 500 people were rescued from "
    "cars and roofs by helicopter and boat crews.",
]
FURNITURE = ["We use cookies", "Accept all", "Home", "Sport", "Business", "Privacy policy", "Terms of use",
             "All rights reserved", "Share this article", "Read more:", "Most read"]

ARTICLE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="{charset}">
<title>Floods force thousands from their homes | The Courier</title>
<meta property="og:title" content="Floods force thousands from their homes">
<meta property="og:site_name" content="The Courier">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2021-03-12T08:00:00Z">
<link rel="canonical" href="https://courier.example.com/news/floods-2021">
</head><body>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your experience. By continuing to
browse, you accept our use of cookies.</p><button>Accept all</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/business">Business</a></li></ul></nav></header>
<main><article>
<h1>Floods force thousands from their homes</h1>
<p class="byline">By <span class="author">Jane Doe</span></p>
<time datetime="2021-03-12">12 March 2021</time>
<p>{0}</p>
<p>{1}</p>
<p class="related">Read more: <a href="/news/bushfires">Bushfire season starts early</a></p>
<p>{2}</p>
<p>{3}</p>
<div class="share"><a href="#">Share this article</a></div>
</article>
<aside><h2>Most read</h2><ol><li><a href="/a">Bushfire season starts early</a></li>
<li><a href="/b">What is La Niña?</a></li></ol></aside></main>
<footer><p>© 2021 The Courier. All rights reserved.</p><ul><li><a href="/privacy">Privacy policy</a></li>
<li><a href="/terms">Terms of use</a></li><li><a href="/contact">Contact us</a></li></ul></footer>
</body></html>"""


@pytest.mark.parametrize("charset", ["utf-8", "windows-1252"])
def test_article_page_gives_body_and_metadata_without_furniture(charset):
    html = ARTICLE.format(*BODY, charset=charset).encode(charset)

    page = html_to_page(html)

    assert page is not None
    assert page.text.split("\n\n") == BODY
    assert page.title == "Floods force thousands from their homes"
    assert page.date == dt.date(2021, 3, 12)
    assert page.author == "Jane Doe"
    assert page.url == "https://courier.example.com/news/floods-2021"
    assert page.source == "The Courier"
    for furniture in FURNITURE:
        assert furniture not in page.text, furniture


def test_url_argument_is_kept_when_the_page_names_none():
    html = ARTICLE.format(*BODY, charset="utf-8").replace('<link rel="canonical"', '<link rel="alternate"')
    page = html_to_page(html, url="https://courier.example.com/floods")
    assert page is not None and page.url == "https://courier.example.com/floods"


def test_a_page_that_is_only_a_script_has_no_article():
    html = ("<html><head><script>var x = 1; document.write('hello world');</script></head>"
            "<body><script>console.log('a long script text here that is not an article');</script></body></html>")
    assert html_to_page(html) is None
    assert html_to_page(b"") is None


def test_a_login_wall_has_no_article():
    html = """<html><head><title>Premium | The Courier</title></head><body>
    <header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
    <main><h1>Floods force thousands from their homes</h1><div class="paywall">
    <p>This article is for subscribers only.</p><p>Log in or subscribe to continue reading.</p>
    <form><label>Email</label><input type="email" name="email"><label>Password</label>
    <input type="password" name="password"><button type="submit">Log in</button></form>
    <p><a href="/forgot">Forgot your password?</a></p>
    <p>Already a subscriber? <a href="/login">Sign in</a></p></div></main></body></html>"""
    assert html_to_page(html) is None
    assert html_to_page(html.encode("utf-8")) is None


def _benchmark_pages(count: int) -> list[tuple[bytes, str]]:
    """The first `count` benchmark pages whose gold opening bare trafilatura also extracts."""
    if not (BENCHMARK / "ground_truth.jsonl").is_file():
        pytest.skip(f"article extraction benchmark not found at {BENCHMARK}")
    pages = []
    with (BENCHMARK / "ground_truth.jsonl").open(encoding="utf-8") as rows:
        for row in map(json.loads, rows):
            html = gzip.open(BENCHMARK / row["html_file"]).read()
            opening = " ".join(row["expected_text"][:40].split())
            if opening in " ".join((trafilatura.extract(html) or "").split()):
                pages.append((html, opening))
            if len(pages) == count:
                break
    return pages


def test_real_pages_give_the_opening_of_their_article():
    pages = _benchmark_pages(5)
    assert len(pages) == 5
    for html, opening in pages:
        page = html_to_page(html)
        assert page is not None
        assert opening in " ".join(page.text.split())
