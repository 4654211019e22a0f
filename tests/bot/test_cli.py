"""The `newsdesk` command as a user runs it: a real subprocess over a real index."""

import json
import subprocess

from tests.conftest import NEWSDESK, REPO, SAMPLE


def newsdesk(*args, stdin: str | None = None, index=None, check=True):
    cmd = [*NEWSDESK, *args] + (["--index", str(index)] if index else [])
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=REPO, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_help_lists_the_commands():
    out = newsdesk("--help").stdout
    for command in ("index", "ask", "repl", "show", "stats"):
        assert command in out


def test_index_then_ask_json_show_and_stats(tmp_path):
    index = tmp_path / "index"
    result = newsdesk("index", str(SAMPLE), "--quiet", index=index)
    assert "15 added" in result.stdout and "0 skipped" in result.stdout

    answer = json.loads(newsdesk("ask", "--json", "How many jobs will the Tallow & Finch plant create?",
                                 index=index).stdout)
    assert set(answer) == {"question", "answered", "sentences", "undated_left_out"} and answer["answered"]
    first = answer["sentences"][0]
    assert set(first) == {"text", "score", "citation", "context", "also_reported_by"}
    assert set(first["context"]) == {"title", "previous"} and first["context"]["title"] == first["citation"]["title"]
    assert set(first["citation"]) == {"article_id", "title", "date", "url", "source", "start", "end"}
    shown = json.loads(newsdesk("show", first["citation"]["article_id"], "--json", index=index).stdout)
    assert set(shown) == {"id", "title", "date", "url", "source", "text"}
    assert shown["text"][first["citation"]["start"] : first["citation"]["end"]] == first["text"]

    stats = json.loads(newsdesk("stats", "--json", index=index).stdout)
    assert stats["articles"] == 15 and stats["model"].endswith("all-MiniLM-L6-v2") and stats["size_bytes"] > 0

    text = newsdesk("ask", "How many jobs will the Tallow & Finch plant create?", index=index).stdout
    assert "[1]" in text and "Sources" in text and "Tallow" in text


def test_batch_mode_answers_every_line_with_its_id(tmp_path, sample_index):
    lines = [{"id": "q1", "question": "Who founded Kestrel Robotics?"},
             {"id": "q2", "question": "What is the boiling point of tungsten?"}]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n"
    result = newsdesk("ask", "--json", "--top", "2", stdin=stdin, index=sample_index, check=False)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out[:2]] == ["q1", "q2"]
    assert out[0]["answered"] and len(out[0]["sentences"]) <= 2
    assert out[1]["answered"] is False and out[1]["sentences"] == []
    assert out[2]["line"] == 3 and "error" in out[2]
    assert result.returncode == 1


def test_no_abstain_returns_ranked_sentences(sample_index):
    out = json.loads(newsdesk("ask", "--json", "--no-abstain", "--top", "4", "What is the boiling point of tungsten?",
                              index=sample_index).stdout)
    assert out["answered"] and len(out["sentences"]) == 4


def test_repl_driven_through_stdin(sample_index):
    stdin = "Who founded Kestrel Robotics?\n:sources\n:help\nWhat is the boiling point of tungsten?\n:quit\nignored\n"
    out = newsdesk("repl", stdin=stdin, index=sample_index).stdout
    assert "Kestrel" in out and "[1]" in out
    assert ":reset" in out  # the help text
    assert "don't cover" in out
    assert "ignored" not in out


def test_bad_inputs_are_reported_by_name_and_the_rest_indexed(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Good news\n\nThe bridge reopened on Monday after repairs.")
    (corpus / "empty.txt").write_text("")
    (corpus / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 r\xe9ouvert\n\nLe caf\xe9 a rouvert.".encode("latin-1"))
    (corpus / "lines.jsonl").write_text('{"id": "ok", "title": "T", "text": "A fine sentence here."}\n{broken\n')
    result = newsdesk("index", str(corpus), str(tmp_path / "missing"), "--quiet", index=tmp_path / "index",
                      check=False)
    assert result.returncode == 1
    for expected in ("empty.txt: empty file", "binary.txt: binary file", "latin1.txt: not UTF-8",
                     "lines.jsonl:2: invalid JSON", "missing: no such file or folder"):
        assert expected in result.stderr
    assert "2 added" in result.stdout


def test_missing_index_is_a_clear_error(tmp_path):
    result = newsdesk("ask", "anything", index=tmp_path / "nothing", check=False)
    assert result.returncode == 2 and "no index at" in result.stderr and "newsdesk index" in result.stderr


def test_an_empty_folder_is_reported_and_a_failed_first_run_leaves_nothing(tmp_path):
    empty, index = tmp_path / "empty", tmp_path / "index"
    empty.mkdir()
    result = newsdesk("index", str(empty), "--quiet", index=index, check=False)
    assert result.returncode == 1
    assert f"no articles found in {empty} (looked for .htm, .html, .jsonl, .md, .txt)" in result.stderr
    assert not index.exists()
    assert newsdesk("index", str(tmp_path / "missing"), "--quiet", index=index, check=False).returncode == 1
    assert not index.exists(), "not even a .lock is left behind"


def test_asking_an_index_whose_articles_were_all_removed_says_it_has_none(tmp_path):
    folder, index = tmp_path / "news", tmp_path / "index"
    folder.mkdir()
    (folder / "a.txt").write_text("Bridge news\n\nThe bridge reopened on Monday after repairs.\n")
    newsdesk("index", str(folder), "--quiet", index=index)
    (folder / "a.txt").unlink()
    result = newsdesk("index", str(folder), "--quiet", index=index)  # the folder's articles go: a success
    assert "1 removed" in result.stdout and "no articles found in" in result.stderr
    for command in (["ask", "when did the bridge reopen"], ["repl"]):
        asked = newsdesk(*command, stdin="hello\n", index=index, check=False)
        assert asked.returncode == 2
        assert f"the index at {index} has no articles: add some with `newsdesk index PATH" in asked.stderr
