"""Scraped news pages lose their furniture and keep every article paragraph; clean text passes through."""

import datetime as dt

import pytest

from embeddings.cleaning import clean_scraped_text, parse_date_line
from tests.conftest import SEEDS

SEED = SEEDS / "000_abd5cfe2a4579f9a.txt"

# How each furniture line of the seed page starts; every other non-empty line is article body.
SEED_FURNITURE = (
    "1. Skip to content", "2. Skip to main menu", "3. Skip to more DW sites", "Politics",
    "US urges China to pressure North Korea", "June 22, 2017",
    "U.S. Secretary of State Rex Tillerson welcomes", "Image: ", "Trump says China should help more",
    "00:43", "This browser does not support the video element.", "Read more:", "Complicated position",
    "North Korea hits back, labels Trump", "aw/cmk (AFP, dpa)", "Skip next section", "DW's Top Story",
)


def _lines(raw: str) -> list[str]:
    """The non-empty lines of a page as the cleaner should reproduce them."""
    return [line.replace("\u00a0", " ").strip() for line in raw.splitlines() if line.strip()]


def test_seed_page_keeps_every_paragraph_and_drops_the_furniture():
    if not SEED.is_file():
        pytest.skip(f"seed page not found at {SEED}")
    lines = _lines(SEED.read_text(encoding="utf-8"))
    furniture = [line for line in lines if line.startswith(SEED_FURNITURE)]
    body = [line for line in lines if not line.startswith(SEED_FURNITURE)]
    assert len(furniture) >= 20 and len(body) >= 18

    page = clean_scraped_text(SEED.read_text(encoding="utf-8"))

    assert page.title == "US urges China to pressure North Korea"
    assert page.date == dt.date(2017, 6, 22)
    assert page.source == "DW"
    assert page.text.split("\n\n") == body  # all of it, in order, each paragraph verbatim
    for line in furniture:
        assert line not in page.text
    assert "\u00a0" not in page.text and "[China has a] diplomatic responsibility" in page.text


OTHER_PAGE_HEAD = """\
Jump to navigation
Go to Harbour Times homepage
  • World
  • Asia Pacific

Floods force thousands from their homes in New South Wales

By Jane Doe
{date}
"""
OTHER_PAGE_BODY = [
    "Heavy rain has forced thousands of people to leave their homes in New South Wales, officials said on Friday.",
    'The state\'s premier said the situation was "very serious" and warned that more rain was expected.',
    '"We have never seen anything like this," said one resident, who had lived in the town for 40 years.',
    "Emergency services received more than 2,000 calls for help overnight. Who pays for the damage?",
    "Insurers said claims could top $1 billion, the highest since 2011!",
]
OTHER_PAGE_FURNITURE = [
    "Jump to navigation", "Go to Harbour Times homepage", "World", "Asia Pacific", "By Jane Doe",
    "Rescue crews search a flooded street in Windsor, west of Sydney.", "Photo: Reuters",
    "Watch: Drone footage shows the scale of the flooding", "Listen 03:12",
    "Sign up for the Harbour Times morning newsletter to get the top stories in your inbox.",
    "Rising waters", "Related: Why Australia's east coast keeps flooding?", "jm/rt (Reuters, AP)",
    "We use cookies to improve your experience. By continuing to browse, you accept our use of cookies.",
    "Share this article", "Follow Harbour Times on Facebook.", "More from Harbour Times",
    "- Bushfire season starts early", "- What is La Niña?", "© 2021 Harbour Times",
    "The Harbour Times is an independent newspaper founded in 1921.",
]


def _other_page(date_line: str) -> str:
    """A scraped page from another publisher, with its own kinds and wording of furniture."""
    body, furniture = OTHER_PAGE_BODY, OTHER_PAGE_FURNITURE
    return OTHER_PAGE_HEAD.format(date=date_line) + "\n".join([
        "", body[0], "",
        furniture[5], furniture[6], "",
        furniture[7], "", furniture[8], "",
        body[1], "",
        furniture[9], "",
        body[2].replace(" said one", "\u00a0said one"), "   ", "",
        furniture[10], "",
        body[3], furniture[11], "",
        body[4], "",
        furniture[12], "",
        furniture[13], "",
        furniture[14], furniture[15], "",
        furniture[16], *furniture[17:19], "",
        furniture[19], furniture[20], "",
    ])


@pytest.mark.parametrize("date_line", ["12 March 2021", "2021-03-12", "Published: March 12, 2021", "12.03.2021"])
def test_a_different_page_is_cleaned_by_the_same_rules(date_line):
    page = clean_scraped_text(_other_page(date_line))

    assert page.title == "Floods force thousands from their homes in New South Wales"
    assert page.date == dt.date(2021, 3, 12)
    assert page.source == "Harbour Times"
    assert page.author == "Jane Doe"
    assert page.text.split("\n\n") == OTHER_PAGE_BODY
    for line in OTHER_PAGE_FURNITURE:
        assert line not in page.text, line


CLEAN_PARAGRAPHS = [
    "The city council approved a new budget on Monday. It raises spending on schools by 4%.",
    "Share prices of the city's bus operator fell after the vote. Watch makers were unaffected.",
    'Critics said the plan was unaffordable! "It will not work," one member said.',
    "Will it pass a second vote? The mayor thinks so.",
    "By 2030 the city expects to spend twice as much on transport (officials say).",
    # prose that shares words with furniture stays
    '"We baked cookies for the volunteers," she said. More than 300 people came.',
    "Residents must log in to the council website to vote. At 10:30 it crashed.",
    "At 10:30 it crashed.",
]


def test_clean_text_passes_through_with_all_its_paragraphs():
    page = clean_scraped_text("Council approves new budget\n\n" + "\n\n".join(CLEAN_PARAGRAPHS) + "\n")
    assert page.title == "Council approves new budget"
    assert page.text.split("\n\n") == CLEAN_PARAGRAPHS
    assert (page.date, page.source, page.author) == (None, None, None)

    untitled = clean_scraped_text("\n\n".join(CLEAN_PARAGRAPHS))
    assert untitled.title == "" and untitled.text.split("\n\n") == CLEAN_PARAGRAPHS


def test_one_paragraph_per_line_and_hard_wrapped_paragraphs():
    one_per_line = clean_scraped_text("\n".join(CLEAN_PARAGRAPHS))
    assert one_per_line.text.split("\n\n") == CLEAN_PARAGRAPHS

    wrapped = clean_scraped_text(
        "The city council approved a new budget on Monday after a long\n"
        "debate that ran late into the night, officials said. It raises\n"
        "spending on schools by 4%.\n\nCritics said the plan was unaffordable.\n"
    )
    assert wrapped.text.split("\n\n") == [
        "The city council approved a new budget on Monday after a long debate that ran late into the night, "
        "officials said. It raises spending on schools by 4%.",
        "Critics said the plan was unaffordable.",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("June 22, 2017", dt.date(2017, 6, 22)),
        ("Thursday 12 March 2021, 14:05 AEDT", dt.date(2021, 3, 12)),
        ("Updated: 2021-03-12", dt.date(2021, 3, 12)),
        ("March 2021", None),  # no day
        ("2017", None),
        ("00:43", None),
        ("1 2 3", None),  # no four-digit year
        ("On June 22, 2017 Tillerson spoke.", None),  # a sentence, not a date line
    ],
)
def test_date_lines_are_whole_full_dates(line, expected):
    assert parse_date_line(line) == expected


def test_empty_and_furniture_only_pages_give_an_empty_body():
    assert clean_scraped_text("").text == ""
    page = clean_scraped_text("Skip to content\nHome\n\nShare this article\n00:43\n")
    assert (page.text, page.source) == ("", None)
