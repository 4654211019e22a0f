"""Every input format becomes Articles with the right ids and metadata; bad files become Problems."""

import json

from embeddings.loaders import Problem, load_paths
from tests.conftest import SAMPLE


def load(*paths):
    items = list(load_paths(list(paths)))
    return [i for i in items if not isinstance(i, Problem)], [i for i in items if isinstance(i, Problem)]


def test_sample_corpus_loads_every_format_with_relative_ids():
    articles, problems = load(SAMPLE)
    assert problems == []
    ids = {a.id for a in articles}
    assert len(articles) == 15
    assert "html/science/greyhollow-observatory-comet.html" in ids
    assert "markdown/coast-marathon-2026.md" in ids
    assert "text/ostry-tram-line-opens.txt" in ids
    assert "wire-2025-0214-harbour-wall" in ids  # JSONL ids are kept
    for article in articles:
        assert article.title and article.text.strip()
        assert article.origin.startswith(str(SAMPLE.resolve()))


def test_jsonl_fields_are_kept_and_broken_lines_reported(tmp_path):
    good = {"id": "x1", "title": "Title", "text": "Body text.", "date": "2024-05-01T10:00:00Z",
            "url": "https://example.org/x1", "source": "Wire"}
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join([json.dumps(good), "{oops", json.dumps({"title": "no id", "text": "x"}),
                               json.dumps({"id": "x2", "text": "Dated badly.", "date": "yesterday-ish"}),
                               json.dumps({"id": "x3", "text": "Fine."})]) + "\n")
    articles, problems = load(path)
    assert [a.id for a in articles] == ["x1", "x3"]
    first = articles[0]
    assert (first.title, str(first.date), first.url, first.source) == ("Title", "2024-05-01", good["url"], "Wire")
    assert [(p.line, p.reason.split(" ")[0]) for p in problems] == [(2, "invalid"), (3, "missing"), (4, "bad")]
    assert str(problems[0]).startswith(f"{path}:2: invalid JSON")


def test_markdown_first_heading_is_the_title(tmp_path):
    (tmp_path / "note.md").write_text("# Bridge reopens\n\nThe bridge reopened on Monday.\n\n## Traffic\n\n"
                                      "Traffic returned to normal by noon.\n")
    [article], _ = load(tmp_path / "note.md")
    assert article.id == "note.md" and article.title == "Bridge reopens"
    assert "Traffic returned to normal by noon." in article.text and "#" not in article.text


def test_text_file_title_and_windows_newlines(tmp_path):
    (tmp_path / "t.txt").write_bytes(b"Mayor resigns\r\n\r\nThe mayor resigned on Friday. She gave no reason.\r\n")
    [article], _ = load(tmp_path / "t.txt")
    assert article.title == "Mayor resigns"
    assert "\r" not in article.text and "The mayor resigned on Friday." in article.text


def test_bad_files_are_reported_and_skipped(tmp_path):
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)))
    (tmp_path / "latin.txt").write_bytes("R\xe9sum\xe9 of the day.".encode("latin-1"))
    (tmp_path / "big.txt").write_text("A sentence. " * 200)
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "script.html").write_text("<html><body><script>var x = 1;</script></body></html>")
    (tmp_path / "ok.txt").write_text("Fine title\n\nThe rest of the corpus is still indexed.")
    items = list(load_paths([tmp_path, tmp_path / "nope"], max_bytes=1000))
    problems = {p.path.rsplit("/", 1)[-1]: p.reason for p in items if isinstance(p, Problem)}
    assert problems["empty.md"] == "empty file"
    assert problems["bin.txt"].startswith("binary file")
    assert problems["latin.txt"].startswith("not UTF-8")
    assert "over the" in problems["big.txt"]
    assert problems["image.png"].startswith("unsupported file type .png")
    assert problems["script.html"].startswith("no article text")
    assert problems["nope"] == "no such file or folder"
    assert [a.id for a in items if not isinstance(a, Problem)] == ["ok.txt"]


def test_symlink_loops_do_not_hang(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "story.txt").write_text("Title\n\nOne sentence here.")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    articles, _ = load(tmp_path)
    assert [a.id for a in articles] == ["a/story.txt"]


def test_every_sample_article_has_its_date():
    articles, _ = load(SAMPLE)
    dates = {a.id: str(a.date) for a in articles}
    assert None not in dates.values() and "None" not in dates.values()
    # The four found in the opening sentence: "... on Monday 15 September 2025, ...", "published on 18 March 2025"
    assert dates["text/ostry-tram-line-opens.txt"] == "2025-09-15"
    assert dates["text/fenwick-bees-study.txt"] == "2025-03-18"
    assert dates["markdown/coast-marathon-2026.md"] == "2026-04-19"
    assert dates["markdown/brightmoor-battery-funding.md"] == "2025-10-07"


def test_front_matter_gives_title_date_url_and_source(tmp_path):
    front = ("---\ntitle: \"Bridge reopens: traffic returns\"\ndate: 2024-05-01 09:30\nurl: https://example.org/b\n"
             "source: Valley Post\ntags: [roads]\n---\n")
    (tmp_path / "b.md").write_text(front + "# A heading\n\nThe bridge reopened on 3 June 2020 after repairs.\n")
    (tmp_path / "c.txt").write_text("---\ndate: 7 October 2025\n---\nPlain title\n\nThe plant opened today.\n")
    [b, c], problems = load(tmp_path / "b.md", tmp_path / "c.txt")
    assert problems == []
    assert (b.title, str(b.date), b.url, b.source) == ("Bridge reopens: traffic returns", "2024-05-01",
                                                       "https://example.org/b", "Valley Post")
    assert "title:" not in b.text and "---" not in b.text
    assert (c.title, str(c.date)) == ("Plain title", "2025-10-07")


def test_a_date_line_comes_before_a_date_in_the_text(tmp_path):
    (tmp_path / "d.txt").write_text("Mill closes\n\nDate: 2 March 2021\n\nThe mill, opened on 1 May 1890, shut.\n")
    (tmp_path / "e.txt").write_text("Mill closes\n\nLONDON, March 3, 2024 (Reuters) - The mill shut on Friday.\n")
    [d], _ = load(tmp_path / "d.txt")
    [e], _ = load(tmp_path / "e.txt")
    assert (str(d.date), str(e.date)) == ("2021-03-02", "2024-03-03")


def test_no_date_is_made_up_from_relative_or_partial_dates(tmp_path):
    (tmp_path / "f.txt").write_text("Mill closes\n\nTwo days ago the mill shut, after twelve years of losses, "
                                    "in March.\n\nIt reopened on 4 July 2019.\n")
    [f], _ = load(tmp_path / "f.txt")
    assert f.date is None  # no full date in the first paragraph, and the second is not read


def test_broken_front_matter_is_reported_by_name(tmp_path):
    (tmp_path / "g.md").write_text("---\ntitle: [unclosed\n---\n# T\n\nText here.\n")
    (tmp_path / "h.md").write_text("---\ndate: someday soon\n---\n# T\n\nText here.\n")
    _, problems = load(tmp_path / "g.md", tmp_path / "h.md")
    assert [p.path.rsplit("/", 1)[-1] for p in problems] == ["g.md", "h.md"]
    assert "front matter is not valid YAML" in problems[0].reason and "front matter date" in problems[1].reason
