"""`newsdesk index --ray` on a real two-node Ray cluster on loopback addresses builds the index a local build
makes, survives a worker node's death, and leaves the index whole when the cluster or the process fails."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings.storage.reader import IndexReader
from tests.conftest import NEWSDESK, REPO, SAMPLE, SHARED, require_shared
from tests.embeddings.test_segments import answers
from tests.robustness.conftest import (
    build_index, child_env, file_digests, newsdesk, snapshot, start_newsdesk, write_corpus,
)

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'newsdesk[ray]')")
sys.path.insert(0, str(REPO / "scripts"))  # the cluster's process handling is shared with bench_build.py --ray
from _ray_cluster import LoopbackCluster, free_port  # noqa: E402
pytestmark = pytest.mark.ray
BBC = SHARED / "data" / "articles" / "bbc_news_2225.part01.jsonl"


@pytest.fixture(scope="module")
def cluster():
    """A head node (127.0.0.2) and a worker node (127.0.0.3), one CPU slot each, stopped by PID after."""
    nodes = LoopbackCluster()
    try:
        nodes.add_node("127.0.0.3")
        with pytest.MonkeyPatch.context() as patch:  # `newsdesk` subprocesses inherit the cluster's token
            for name, value in nodes.client_env.items():
                patch.setenv(name, value)
            yield nodes
    finally:
        nodes.stop()


def contents(root) -> tuple[list[tuple], np.ndarray]:
    """Every sentence (article id, content hash, position, paragraph, offsets, text, kind) and its vector."""
    reader = IndexReader.open(root)
    rows = reader.db.execute("SELECT a.id, a.content_hash, s.idx, s.paragraph, s.start, s.end, s.text, s.kind, s.id "
                             "FROM sentences s JOIN articles a ON a.rowid = s.article_rowid ORDER BY a.id, s.idx")
    rows = rows.fetchall()
    return [r[:-1] for r in rows], reader.sentence_vectors.reconstruct_batch(np.array([r[-1] for r in rows]))


def assert_same_index(built, expected) -> None:
    (rows, vectors), (want_rows, want_vectors) = contents(built), contents(expected)
    assert rows == want_rows
    assert np.allclose(vectors, want_vectors, atol=1e-5, rtol=0)


def index_on(cluster, corpus, root, *more: str):
    return newsdesk("index", str(corpus), "--quiet", "--ray", cluster.address, *more, index=root, timeout=600)


def test_the_sample_through_two_nodes_equals_a_local_build(tmp_path, cluster, sample_index, encoder):
    root = tmp_path / "index"
    result = index_on(cluster, SAMPLE, root)
    assert result.returncode == 0, result.stderr
    assert_same_index(root, sample_index)
    assert answers(root, encoder) == answers(sample_index, encoder)
    built = snapshot(root)
    again = index_on(cluster, SAMPLE, root, "--json")  # nothing changed: nothing embedded, nothing committed
    report = json.loads(again.stdout)
    assert again.returncode == 0 and report["sentences"] == 0 and report["unchanged"] == 15 and not report["added"]
    assert report["generation"] is None and snapshot(root) == built


def raylets() -> set[int]:
    return {int(p.parent.name) for p in Path("/proc").glob("[0-9]*/comm") if _read(p) == "raylet"}


def _read(path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def test_a_local_ray_is_started_for_the_run_and_stopped_after_it(tmp_path, sample_index):
    before = raylets()
    result = newsdesk("index", str(SAMPLE), "--quiet", "--ray", index=tmp_path / "index", timeout=600)
    assert result.returncode == 0, result.stderr
    assert_same_index(tmp_path / "index", sample_index)
    assert raylets() <= before, "the Ray started for the run is stopped with it"


def bbc_corpus(folder, count: int):
    """The first `count` BBC articles, as one JSONL file."""
    folder.mkdir()
    lines = itertools.islice(require_shared(BBC).read_text().splitlines(), count)
    (folder / "bbc.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_300_bbc_articles_through_two_nodes_equal_a_local_build(tmp_path, cluster, encoder):
    corpus = bbc_corpus(tmp_path / "bbc", 300)
    local = build_index(tmp_path / "local", corpus, encoder)
    result = index_on(cluster, corpus, tmp_path / "ray")
    assert result.returncode == 0, result.stderr
    assert_same_index(tmp_path / "ray", local)
    questions = ["how much did time warner's profits rise", "who bought the yukos unit", "what happened to the dollar"]
    assert answers_to(tmp_path / "ray", encoder, questions) == answers_to(local, encoder, questions)


def answers_to(root, encoder, questions) -> list[list[tuple]]:
    from retrieval.pipeline import Pipeline

    pipeline = Pipeline(root, encoder)
    return [[(s.text, s.citation.article_id, s.citation.start) for s in pipeline.ask(q).sentences] for q in questions]


def test_without_ray_installed_ray_says_how_to_install_it(tmp_path, index_copy):
    (tmp_path / "ray.py").write_text("raise ImportError('No module named ray')\n")  # Ray absent, as on a user's machine
    before = file_digests(index_copy)
    result = subprocess.run([*NEWSDESK, "index", "--index", str(index_copy), str(SAMPLE), "--ray"], cwd=REPO, text=True,
                            capture_output=True, timeout=300, env={**child_env(), "PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "newsdesk index: --ray needs Ray: pip install 'newsdesk[ray]'; the index is unchanged"]
    assert file_digests(index_copy) == before


def test_an_unreachable_cluster_fails_in_one_line_and_leaves_the_index_as_it_was(index_copy):
    before = file_digests(index_copy)
    result = newsdesk("index", str(SAMPLE), "--ray", f"127.0.0.2:{free_port('127.0.0.2')}", index=index_copy)
    assert result.returncode == 1
    assert "cannot reach the Ray cluster" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert file_digests(index_copy) == before


def test_a_worker_node_killed_mid_run_is_survived(tmp_path, cluster, encoder):
    corpus = write_corpus(tmp_path / "towns", range(1500))
    local = build_index(tmp_path / "local", corpus, encoder)
    cluster.add_node("127.0.0.4")
    process = start_newsdesk("index", str(corpus), "--quiet", "--ray", cluster.address, index=tmp_path / "ray")
    deadline = time.monotonic() + 300
    while not cluster.busy_workers("127.0.0.4"):  # its encoder actor has started: the node holds work
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.1)
    killed = cluster.raylet("127.0.0.4")
    os.kill(killed, signal.SIGKILL)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert_same_index(tmp_path / "ray", local)


def test_a_cluster_that_loses_every_worker_fails_in_one_line_and_leaves_the_index_as_it_was(tmp_path, index_copy,
                                                                                             monkeypatch):
    monkeypatch.setenv("RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S", "20")
    corpus = write_corpus(tmp_path / "towns", range(1500))
    before = file_digests(index_copy)
    nodes = LoopbackCluster(cpus=0)  # the head holds no CPU slot: its one worker node does all the work
    try:
        nodes.add_node("127.0.0.3")
        for name, value in nodes.client_env.items():
            monkeypatch.setenv(name, value)
        process = start_newsdesk("index", str(corpus), "--quiet", "--ray", nodes.address, index=index_copy)
        deadline = time.monotonic() + 300
        while not nodes.busy_workers("127.0.0.3"):
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.1)
        os.kill(nodes.raylet("127.0.0.3"), signal.SIGKILL)
        _, stderr = process.communicate(timeout=300)
    finally:
        nodes.stop()
    assert process.returncode == 1, stderr
    lines = stderr.strip().splitlines()  # "made no progress ..." or, should Ray give up first, what it said
    assert len(lines) == 1 and lines[0].startswith("newsdesk index: the Ray cluster "), stderr
    assert file_digests(index_copy) == before


TRIALS = 4


@pytest.mark.slow
def test_sigkill_of_a_ray_build_near_its_commit_leaves_the_old_or_the_new_index(tmp_path, cluster, sample_index):
    corpus = shutil.copytree(SAMPLE, tmp_path / "articles")
    (corpus / "extra.txt").write_text("Harbour news\n\nThe harbour of Ostry reopened on Friday after repairs.\n")
    old_generation, old_ids = snapshot(sample_index)
    began = time.monotonic()
    assert index_on(cluster, corpus, shutil.copytree(sample_index, tmp_path / "timing")).returncode == 0
    full_run = time.monotonic() - began
    for trial in range(TRIALS):
        seed = random.randrange(2**32)
        delay = random.Random(seed).uniform(0.6 * full_run, 1.1 * full_run)  # the commit comes last
        index = shutil.copytree(sample_index, tmp_path / f"trial{trial}")
        process = start_newsdesk("index", str(corpus), "--quiet", "--ray", cluster.address, index=index)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        generation, ids = snapshot(index)
        print(f"trial {trial}: seed {seed}, SIGKILL after {delay:.2f}s of a {full_run:.2f}s run: "
              f"{'old' if generation == old_generation else 'new'}")
        assert (generation, ids) == (old_generation, old_ids) or ids == old_ids | {"extra.txt"}, f"seed {seed}"
