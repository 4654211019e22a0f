"""scripts/synthetic_corpus.py: the large-index builder of the scale benchmarks writes a real index."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from tests.conftest import REPO, SHARED, require_shared

SCRIPT = REPO / "scripts" / "synthetic_corpus.py"


def test_a_small_synthetic_index_is_whole_and_answers(tmp_path, encoder):
    from embeddings.storage.reader import IndexReader
    from retrieval.pipeline import Pipeline

    data = require_shared(SHARED / "data")
    root = tmp_path / "index"
    result = subprocess.run([sys.executable, str(SCRIPT), "--articles", "60", "--chunk", "25", "--pool", "400",
                             "--index", str(root), "--data", str(data), "--backend", encoder.backend],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NEWSDESK_BENCH_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert "synthetic" in result.stdout and "60 of 60" in result.stderr
    reader = IndexReader.open(root)
    assert reader.stats()["articles"] == 60 and reader.segments == 3
    rows = reader.db.execute("SELECT a.text, s.start, s.end, s.text, s.id FROM sentences s "
                             "JOIN articles a ON a.rowid = s.article_rowid").fetchall()
    assert all(text[start:end] == sentence for text, start, end, sentence, _ in rows)
    vectors = reader.sentence_vectors.reconstruct_batch(np.array([r[4] for r in rows]))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    question = next(r[3] for r in rows if _timeless(r[3]))  # "In January, ..." would filter by date
    answer = Pipeline(root, encoder).ask(question, abstain=False)
    assert answer.sentences[0].text == question, "a stored sentence, asked, is found first"


def _timeless(text: str) -> bool:
    from retrieval.timeparse import parse_time

    parsed = parse_time(text, None)
    return parsed.filters.is_empty() and parsed.recent is None
