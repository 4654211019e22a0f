"""The web page in a real browser (Debian's chromium, headless, driven by Playwright) against a real
`newsdesk serve` over the sample corpus plus one article full of markup and emoji. Screenshots of the main
states go to the test's temp folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from embeddings.indexer import Indexer
from embeddings.models import Article
from tests.bot.conftest import serve_process

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
MARKUP_ID = "pilots-radar"
MARKUP_TEXT = (
    "Harbour pilots at Pemberton 🚢 asked for <script>alert('pwned')</script> answers.\n\n"
    "The pilots' union said the new <b>radar</b> at Pemberton port failed twice in March 🌊🌊, "
    "leaving ships waiting outside the harbour for six hours.\n\n"
    "The port authority said a software update would fix the radar by May."
)

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent: the browser tests need Debian's chromium (apt-get install chromium); "
                "Playwright's own browser download cannot work here", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def web_index(sample_index, encoder, tmp_path_factory) -> Path:
    """The sample index plus an article whose text holds markup, and emoji before the quotes (UTF-16 offsets)."""
    root = tmp_path_factory.mktemp("web") / "index"
    shutil.copytree(sample_index, root)
    article = Article(id=MARKUP_ID, title="Pilots say <i>radar</i> failed 🚢", text=MARKUP_TEXT,
                      source="<Harbour & Co>", url="javascript:alert(1)")
    assert not Indexer(root, encoder, show_progress=False).run([article]).problems
    return root


@pytest.fixture(scope="module")
def server(web_index, encoder):
    with serve_process(web_index, NEWSDESK_BACKEND=encoder.backend) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    """A phone-sized page on the server's /, failing the test on any script error or alert."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"alert: {dialog.message}"), dialog.dismiss()))
    page.goto(server.url)
    yield page
    context.close()
    assert not problems


def ask(page, question: str):
    """Type a question, press Enter, and wait for its turn's answer (or refusal)."""
    turns = page.locator(".turn")
    count = turns.count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    turn = turns.nth(count)
    turn.locator(".answer, .not-covered, .error").wait_for()
    return turn


def article_text(server, article_id: str) -> str:
    return httpx.get(f"{server.url}api/articles/{article_id}", timeout=30).json()["text"]


def test_ask_quote_sources_follow_up_and_open_a_citation(page, server, tmp_path):
    first = ask(page, "was there a storm?")
    assert first.locator(".quote").count() >= 1
    assert "Storm Orla" in first.locator(".sources li").first.inner_text()
    follow = ask(page, "how much rain fell?")
    quote = follow.locator(".quote-text").first.text_content()
    assert "Storm Orla" in follow.locator(".sources").inner_text()
    page.screenshot(path=tmp_path / "answers.png", full_page=True)

    cite = follow.locator(".cite").first
    article_id, start, end = (cite.get_attribute(f"data-{k}") for k in ("article", "start", "end"))
    cite.click()
    mark = page.locator("#article #quoted")
    mark.wait_for()
    assert mark.text_content() == quote == article_text(server, article_id)[int(start):int(end)]
    assert mark.is_visible() and mark.bounding_box()["y"] < PHONE["height"]
    assert page.locator("#article-title").inner_text().startswith("Storm Orla")
    page.screenshot(path=tmp_path / "article.png")
    page.keyboard.press("Escape")
    assert not page.locator("#article").is_visible()


def test_the_highlight_is_text_start_end_of_the_citation(page, server):
    turn = ask(page, "what did the pilots' union say about the radar?")
    cite = turn.locator(".cite").first
    assert cite.get_attribute("data-article") == MARKUP_ID
    start, end = int(cite.get_attribute("data-start")), int(cite.get_attribute("data-end"))
    cite.focus()
    page.keyboard.press("Enter")  # by keyboard
    mark = page.locator("#quoted")
    mark.wait_for()
    assert mark.text_content() == MARKUP_TEXT[start:end]
    assert "<b>radar</b>" in mark.inner_text()


def test_markup_in_articles_and_questions_shows_as_text(page, tmp_path):
    question = "<img src=x onerror=alert(1)> <b>bold</b> question?"
    assert ask(page, question).locator(".question").text_content() == question
    turn = ask(page, "what did the pilots' union say about the radar?")
    assert page.locator(".turn img, .turn b, .turn i").count() == 0
    assert "<b>radar</b>" in turn.locator(".quote-text").first.inner_text()
    assert "<i>radar</i>" in turn.locator(".sources").inner_text()
    assert "<Harbour & Co>" in turn.locator(".sources").inner_text()
    assert turn.locator("a[href^='javascript']").count() == 0
    turn.locator(".source-title").first.click()
    page.locator("#quoted").wait_for()
    assert "<script>alert('pwned')</script>" in page.locator("#article-text").inner_text()
    assert page.locator("script").count() == 1  # the page's own app.js
    page.screenshot(path=tmp_path / "markup.png")


def test_an_off_corpus_question_says_the_articles_do_not_cover_it(page, tmp_path):
    turn = ask(page, "who won the world cup final in qatar?")
    assert turn.locator(".not-covered").inner_text() == "The articles don't cover this question."
    assert turn.locator(".quote").count() == 0
    page.screenshot(path=tmp_path / "not-covered.png")


def test_a_new_chat_forgets_the_conversation(page):
    """After "new chat" a follow-up is answered as when it opens a chat, not from the story asked about before."""
    def answer(question: str) -> str:
        return ask(page, question).locator(".answer, .not-covered").first.inner_text()

    first_of_a_chat = answer("who said that?")
    answer("was there a storm?")
    assert answer("who said that?") != first_of_a_chat  # the conversation changes what "that" means
    page.click("#new-chat")
    assert page.locator(".turn").count() == 0
    assert answer("who said that?") == first_of_a_chat


def test_the_page_fits_a_phone_screen(page):
    turn = ask(page, "who started kestrel robotics?")
    for box in (turn.bounding_box(), page.locator("#ask").bounding_box(), page.locator("#question").bounding_box()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.locator("#ask-button").is_visible() and page.locator("#new-chat").is_visible()


DESKTOP = {"width": 1280, "height": 800}
FIVE = ["was there a storm?", "how much rain fell?", "who started kestrel robotics?", "who won the world cup in qatar?",
        "how much did the tram cost?"]  # a refusal too: a short turn was the one left under the bar
UNCOVERED = """(q) => {
  const r = q.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return q.contains(hit);
}"""


def settled(page) -> None:
    """Wait until the page stops scrolling (a smooth scroll takes a few hundred milliseconds)."""
    last = None
    for _ in range(40):
        now = page.evaluate("window.scrollY")
        if now == last:
            return
        last = now
        page.wait_for_timeout(150)


@pytest.mark.parametrize("size,motion", [(PHONE, "reduce"), (DESKTOP, "no-preference")], ids=["phone", "desktop"])
def test_each_new_answer_is_scrolled_into_view_clear_of_the_ask_bar(browser, server, size, motion, tmp_path):
    context = browser.new_context(viewport=size, reduced_motion=motion)
    page = context.new_page()
    page.goto(server.url)
    for question in FIVE:
        turn = ask(page, question)
        settled(page)
        first = turn.locator(".quote, .not-covered").first
        assert first.evaluate(UNCOVERED), f"the first quote of {question!r} is hidden or under the ask bar"
    page.screenshot(path=tmp_path / "fifth-answer.png")
    context.close()


def test_the_article_dialog_keeps_its_header_while_the_text_scrolls(page):
    ask(page, "who started kestrel robotics?").locator(".cite").first.click()
    page.locator("#quoted").wait_for()
    page.locator("#article-text").evaluate("(t) => { t.scrollTop = t.scrollHeight; }")
    for part in ("#article-title", "#article-meta", "#close-article"):
        box = page.locator(part).bounding_box()
        assert box and 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], part
        assert page.locator(part).evaluate(UNCOVERED), f"{part} is covered by the article text"
    assert "2026-03-12" in page.locator("#article-meta").inner_text()


def test_the_ask_bar_keeps_its_buttons_on_one_row_on_a_phone(page):
    tops = page.evaluate("""['#question', '#ask-button', '#new-chat']
        .map((id) => Math.round(document.querySelector(id).getBoundingClientRect().top))""")
    assert len(set(tops)) == 1, tops


def test_the_empty_page_says_what_the_index_holds_and_offers_examples(page):
    page.locator("#welcome .example").first.wait_for()
    holdings = page.locator("#holdings").inner_text()
    assert holdings.startswith("The index holds 16 articles from ")
    assert "2025-02-14 to 2026-11-04" in holdings  # the sample's first and last dates
    examples = page.locator("#welcome .example")
    assert examples.count() == 3
    newest = examples.first.inner_text()
    assert "Eastmere opens walk-in flu vaccine clinics" in newest  # the sample's newest story, 2026-11-04
    examples.first.click()
    assert page.input_value("#question") == newest
    page.press("#question", "Enter")
    turn = page.locator(".turn").first
    turn.locator(".answer").wait_for()
    assert "flu vaccine" in turn.locator(".sources").inner_text()
    assert not page.locator("#welcome").is_visible()
    page.click("#new-chat")
    assert page.locator("#welcome").is_visible()
