"""SIGKILL a real `newsdesk index` at random moments: the index is always exactly the old or the new one."""

from __future__ import annotations

import random
import shutil
import signal
import time

import pytest

from embeddings.storage import store
from tests.conftest import unlisted_segments
from tests.robustness.conftest import (
    build_index, newsdesk, snapshot, start_newsdesk, town_question, write_corpus,
)

TRIALS = 20
OLD, NEW = range(0, 150), range(0, 300)


def ask_town(index, encoder, number: int) -> bool:
    """Whether a fresh pipeline over `index` answers the town question with that town's sentence."""
    from retrieval.pipeline import Pipeline

    answer = Pipeline(index, encoder).ask(town_question(number))
    return answer.answered and f"Place{number} opened" in answer.sentences[0].text


def kill_at(index, corpus, delay: float) -> int | None:
    """Start `newsdesk index CORPUS`, SIGKILL it after `delay` seconds; its exit code if it finished first."""
    process = start_newsdesk("index", str(corpus), "--quiet", index=index)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=30) if process.returncode is None else process.returncode


@pytest.mark.slow
def test_sigkill_during_index_leaves_the_old_or_the_new_index(tmp_path, encoder):
    old_index = build_index(tmp_path / "old", write_corpus(tmp_path / "corpus", OLD), encoder)
    old_generation, old_ids = snapshot(old_index)
    corpus = write_corpus(tmp_path / "corpus", NEW)
    began = time.monotonic()
    assert newsdesk("index", str(corpus), "--quiet", index=tmp_path / "timing").returncode == 0
    full_run = time.monotonic() - began
    outcomes = {"old": 0, "new": 0}
    for trial in range(TRIALS):
        seed = random.randrange(2**32)
        delay = random.Random(seed).uniform(0.2, full_run * 1.1)
        print(f"trial {trial}: seed {seed}, SIGKILL after {delay:.2f}s of a {full_run:.2f}s run")
        index = tmp_path / f"trial{trial}"
        shutil.copytree(old_index, index)
        kill_at(index, corpus, delay)
        generation, ids = snapshot(index)
        if generation == old_generation:
            assert ids == old_ids, f"seed {seed}: old generation with other articles"
            outcomes["old"] += 1
        else:
            assert ids == {f"town{n:04d}.txt" for n in NEW}, f"seed {seed}: a mix of old and new"
            outcomes["new"] += 1
        assert ask_town(index, encoder, 7), f"seed {seed}: the index does not answer"
        if trial % 5 == 4:
            assert_a_later_run_completes(index, corpus, encoder)
        shutil.rmtree(index)
    print(f"outcomes after SIGKILL: {outcomes}")


def assert_a_later_run_completes(index, corpus, encoder) -> None:
    """After a crash, the next run finishes the work and cleans up what the killed writer left."""
    result = newsdesk("index", str(corpus), "--quiet", index=index)
    assert result.returncode == 0, result.stderr
    generation, ids = snapshot(index)
    assert ids == {f"town{n:04d}.txt" for n in NEW}
    assert unlisted_segments(index) == [] and store.current_generation(index) == generation
    assert ask_town(index, encoder, 250)


BATCH, BATCHES = 20, 12  # twelve writes of one tier; the thirteenth makes the run long enough to merge


@pytest.mark.slow
def test_sigkill_during_a_write_that_merges_leaves_the_old_or_the_merged_index(tmp_path, encoder, monkeypatch):
    from embeddings.storage import merge
    from embeddings.storage.reader import IndexReader

    old_index = tmp_path / "old"
    with monkeypatch.context() as patch:
        patch.setattr(merge, "MAX_PER_TIER", 10**6)
        for batch in range(BATCHES):
            corpus = write_corpus(tmp_path / "corpus", range(batch * BATCH, (batch + 1) * BATCH))
            build_index(old_index, corpus, encoder)
    assert IndexReader.open(old_index).segments == BATCHES
    old_generation, old_ids = snapshot(old_index)
    new = range(0, (BATCHES + 1) * BATCH)
    corpus = write_corpus(tmp_path / "corpus", new)
    timing = shutil.copytree(old_index, tmp_path / "timing")
    began = time.monotonic()
    assert newsdesk("index", str(corpus), "--quiet", index=timing).returncode == 0
    full_run = time.monotonic() - began
    assert IndexReader.open(timing).segments == 1, "the thirteenth segment of one tier merges them all"
    outcomes = {"old": 0, "merged": 0}
    for trial in range(TRIALS):
        seed = random.randrange(2**32)
        delay = random.Random(seed).uniform(0.2, full_run * 1.1)
        print(f"trial {trial}: seed {seed}, SIGKILL after {delay:.2f}s of a {full_run:.2f}s run")
        index = shutil.copytree(old_index, tmp_path / f"trial{trial}")
        kill_at(index, corpus, delay)
        generation, ids = snapshot(index)
        segments = IndexReader.open(index).segments
        if generation == old_generation:
            assert ids == old_ids and segments == BATCHES, f"seed {seed}: old generation changed"
            outcomes["old"] += 1
        else:
            assert ids == {f"town{n:04d}.txt" for n in new} and segments == 1, f"seed {seed}: a mix"
            outcomes["merged"] += 1
        assert ask_town(index, encoder, 7), f"seed {seed}: the index does not answer"
        if trial % 5 == 4:
            result = newsdesk("index", str(corpus), "--quiet", index=index)
            assert result.returncode == 0 and unlisted_segments(index) == [], result.stderr
            assert ask_town(index, encoder, 250)
        shutil.rmtree(index)
    print(f"outcomes after SIGKILL: {outcomes}")
