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
