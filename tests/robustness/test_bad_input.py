"""A corpus holding every kind of bad file, through the real `newsdesk index`: each is reported, the rest indexed."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.robustness.conftest import newsdesk, snapshot, town_article

SCRIPT_ONLY = "<html><head><script>var a = 1;</script></head><body><script>render(app)</script></body></html>"
LOGIN_WALL = """<html><head><title>Sign in | Daily Ledger</title></head><body><nav><a href="/">Home</a></nav>
<div class="paywall"><h2>Log in to continue reading</h2><form action="/login"><input name="email">
<input type="password" name="password"><button>Sign in</button></form>
<p>This story is for subscribers. <a href="/subscribe">Subscribe</a> for full access to every article.</p>
<p>Already a subscriber? Log in to continue reading.</p></div></body></html>"""


def jsonl(*records) -> str:
    """JSONL text: dicts are dumped, strings (broken lines) kept as they are."""
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def article(article_id: str, number: int) -> dict:
    """A JSONL record of a town article."""
    return {"id": article_id, "title": f"Bridge {number}", "text": town_article(number)}


def bad_corpus(root):
    """Good articles beside every bad case of the issue; returns the folder and the ids that must be indexed."""
    files = {
        "good.txt": town_article(1), "good.md": "# Bridge 2\n\n" + town_article(2),
        "feed.jsonl": jsonl(article("feed-3", 3), '{"id": "feed-broken", "text": ', article("feed-4", 4)),
        "a/dups.jsonl": jsonl(article("shared", 5)), "b/dups.jsonl": jsonl(article("shared", 6)),
        "empty.txt": "", "script.html": SCRIPT_ONLY, "login.html": LOGIN_WALL,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (root / "latin1.txt").write_bytes("Le café de la gare a rouvert à Noël.\n".encode("latin-1"))
    with (root / "huge.txt").open("w") as big:  # 50 MB of otherwise fine text
        big.write(town_article(9) * (50 * 2**20 // len(town_article(9)) + 1))
    os.symlink(".", root / "a" / "loop")  # a folder loop
    os.symlink("self.txt", root / "self.txt")  # a file link pointing at itself
    return root, {"good.txt", "good.md", "feed-3", "feed-4", "shared"}


EXPECTED_REASONS = {
    "empty.txt": "empty file",
    "binary.txt": "binary file",
    "latin1.txt": "not UTF-8",
    "huge.txt": "over the 20 MB limit",
    "feed.jsonl:2": "invalid JSON",
    "b/dups.jsonl": "duplicate article id 'shared'; kept the one from",
    "script.html": "no article text",
    "login.html": "no article text",
    "self.txt": "cannot read",
    "does-not-exist": "no such file or folder",
}


@pytest.mark.slow
def test_every_bad_input_is_reported_and_the_rest_is_indexed(tmp_path):
    corpus, good_ids = bad_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    result = newsdesk("index", str(corpus), str(tmp_path / "does-not-exist"), "--quiet", index=index)
    assert result.returncode == 1, result.stderr  # a missing path: non-zero exit, the rest still indexed
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    for where, reason in EXPECTED_REASONS.items():
        assert any(where in line and reason in line for line in skipped), f"{where}: {reason!r} not in {skipped}"
    assert len(skipped) == len(EXPECTED_REASONS), skipped
    summary = re.search(r"(\d+) added, .* (\d+) skipped", result.stdout)
    assert summary and (int(summary[1]), int(summary[2])) == (len(good_ids), len(EXPECTED_REASONS)), result.stdout
    assert snapshot(index)[1] == good_ids
    kept = json.loads(newsdesk("show", "shared", "--json", index=index).stdout)
    assert "Place5" in kept["text"], "the duplicate policy is: the first file (in path order) is kept"


def test_a_missing_path_alone_exits_non_zero(tmp_path):
    result = newsdesk("index", str(tmp_path / "nowhere"), "--quiet", index=tmp_path / "index")
    assert result.returncode == 1 and "no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr
