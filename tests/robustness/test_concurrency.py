"""Readers during a write, two writers, and a write that fails (disk full, read-only): the index survives."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from filelock import FileLock

from tests.conftest import unlisted_segments
from tests.robustness.conftest import (
    ALLOWED, file_digests, make_read_only, newsdesk, snapshot, start_newsdesk, tmpfs, town_question,
    write_corpus,
)


@pytest.mark.slow
def test_a_pipeline_keeps_answering_during_a_write_and_picks_up_the_new_generation(towns_index, tmp_path, encoder):
    from retrieval.pipeline import Pipeline

    index = shutil.copytree(towns_index, tmp_path / "index")
    old_generation, _ = snapshot(index)
    pipeline = Pipeline(index, encoder)
    corpus = write_corpus(tmp_path / "corpus", range(0, 250))
    writer = start_newsdesk("index", str(corpus), "--quiet", index=index)
    answered, generations = 0, set()
    while writer.poll() is None:
        answer = pipeline.ask(town_question(answered % 60))
        assert answer.answered and f"Place{answered % 60} opened" in answer.sentences[0].text
        generations.add(pipeline.index.generation)
        answered += 1
    assert writer.returncode == 0
    new_generation = snapshot(index)[0]
    assert old_generation in generations <= {old_generation, new_generation}, "an uncommitted generation was read"
    assert answered > 10, "the writer finished before the readers were exercised"
    answer = pipeline.ask(town_question(221))  # only in the new generation
    assert answer.answered and "Place221 opened" in answer.sentences[0].text
    assert pipeline.index.generation == new_generation != old_generation


def repl_answer(repl, number: int) -> str:
    """Ask a running `newsdesk repl` about a town; its reply (`:sources` after the question marks its end)."""
    repl.stdin.write(f"{town_question(number)}\n:sources\n")
    repl.stdin.flush()
    lines = []
    for line in repl.stdout:
        if line.startswith("> :sources"):
            break
        lines.append(line)
    return "".join(lines)


@pytest.mark.slow
def test_the_repl_keeps_answering_during_a_write_and_picks_up_the_new_generation(towns_index, tmp_path):
    index = shutil.copytree(towns_index, tmp_path / "index")
    repl = start_newsdesk("repl", index=index, stdin=subprocess.PIPE)
    try:
        assert "Place3 opened" in repl_answer(repl, 3)
        writer = start_newsdesk("index", str(write_corpus(tmp_path / "corpus", range(60, 300))), "--quiet",
                                index=index)
        asked = 0
        while writer.poll() is None:
            assert f"Place{asked % 60} opened" in repl_answer(repl, asked % 60)
            asked += 1
        assert writer.returncode == 0 and asked > 0
        assert "Place250 opened" in repl_answer(repl, 250)
    finally:
        repl.stdin.close()
        repl.wait(timeout=30)


@pytest.mark.slow
def test_the_telegram_bot_keeps_answering_during_a_write_and_picks_up_the_new_generation(robust_bot, tmp_path):
    writer = start_newsdesk("index", str(write_corpus(tmp_path / "corpus", range(60, 300))), "--quiet",
                            index=robust_bot.index)
    asked = 0
    while writer.poll() is None:
        [reply] = robust_bot.say(ALLOWED["id"], town_question(asked % 60), ALLOWED)
        assert f"Place{asked % 60} opened" in reply["text"]
        asked += 1
    assert writer.returncode == 0 and asked > 0
    [reply] = robust_bot.say(ALLOWED["id"], town_question(250), ALLOWED)
    assert "Place250 opened" in reply["text"]


def test_a_second_writer_fails_with_a_clear_message(towns_index, tmp_path):
    index = shutil.copytree(towns_index, tmp_path / "index")
    before = file_digests(index)
    with FileLock(str(index / ".lock")):  # what a running `newsdesk index` holds
        result = newsdesk("index", str(write_corpus(tmp_path / "corpus", range(3))), "--quiet", index=index)
    assert result.returncode != 0
    assert "another newsdesk process is writing the index" in result.stderr
    assert "Traceback" not in result.stderr
    assert file_digests(index) == before and unlisted_segments(index) == []


def test_two_writers_at_once_never_interleave(towns_index, tmp_path):
    index = shutil.copytree(towns_index, tmp_path / "index")
    batches = {"a": range(100, 300), "b": range(500, 700)}
    writers = {name: start_newsdesk("index", str(write_corpus(tmp_path / name, numbers)), "--quiet", index=index)
               for name, numbers in batches.items()}
    results = {name: (w.wait(timeout=300), w.communicate()[1]) for name, w in writers.items()}
    towns = {int(i[4:8]) for i in snapshot(index)[1]}
    assert any(code == 0 for code, _ in results.values()), results
    for name, (code, stderr) in results.items():
        if code == 0:  # the other had not taken the lock yet, or had finished: one after the other
            assert set(batches[name]) <= towns
        else:
            assert "another newsdesk process is writing" in stderr and "Traceback" not in stderr
            assert not towns & set(batches[name])
    assert unlisted_segments(index) == []


@pytest.mark.parametrize("failure, room", [("disk full", 1.3), ("disk full", 2.5), ("read-only", 2)])
def test_a_failed_write_is_reported_and_leaves_the_previous_index_untouched(towns_index, tmp_path, failure, room):
    """`room` × the index's size: 1.3 fills the disk while copying the generation, 2.5 while writing the new one."""
    size = sum(f.stat().st_size for f in towns_index.rglob("*") if f.is_file())
    with tmpfs(tmp_path / "mnt", str(int(size * room))) as mount:
        index = shutil.copytree(towns_index, mount / "index")
        if failure == "read-only":
            make_read_only(mount)
        before, generation = file_digests(index), snapshot(index)
        result = newsdesk("index", str(write_corpus(tmp_path / "corpus", range(0, 400))), "--quiet", index=index)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr, result.stderr
        reasons = ("No space left on device", "disk is full") if failure == "disk full" else ("Read-only file system",)
        assert any(r in result.stderr for r in reasons), result.stderr
        assert "previous index is unchanged" in result.stderr, result.stderr
        assert file_digests(index) == before and snapshot(index) == generation
        assert unlisted_segments(index) == []


def test_readers_opening_while_writers_commit_never_fail(towns_index, tmp_path, encoder):
    import threading

    from embeddings.storage.reader import IndexReader
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths

    index = shutil.copytree(towns_index, tmp_path / "index")
    errors, done = [], threading.Event()

    def read_forever():
        while not done.is_set():
            try:
                IndexReader.open(index).close()
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        for run in range(8):
            corpus = write_corpus(tmp_path / f"corpus{run}", range(100 + run, 101 + run))
            Indexer(index, encoder, show_progress=False).run(load_paths([corpus]))
    finally:
        done.set()
        reader.join()
    assert errors == []
