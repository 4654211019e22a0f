"""scripts/rebuild_embeddings.py: a full rebuild from stored text, and --changed-only from the files."""

import subprocess
import sys

from embeddings.storage.reader import IndexReader
from tests.conftest import REPO


def rebuild(index, *args):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "rebuild_embeddings.py"), "--index", str(index),
                             *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_full_and_changed_only_rebuilds(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Harbour news\n\nThe harbour wall will be rebuilt next spring.")
    (corpus / "b.txt").write_text("Bakery news\n\nA bakery opened on the high street on Monday.")
    (corpus / "c.jsonl").write_text('{"id": "c1", "title": "Rain", "text": "It rained all week."}\n')
    subprocess.run([sys.executable, "-m", "bot.cli", "index", str(corpus), "--index", str(index), "--quiet"],
                   check=True, cwd=REPO, capture_output=True, timeout=300)
    before = IndexReader.open(index).generation

    full = rebuild(index)
    assert "3 added" in full.stdout and "sentences/s" in full.stderr
    assert IndexReader.open(index).generation != before

    (corpus / "a.txt").write_text("Harbour news\n\nThe harbour wall will now be rebuilt in the summer.")
    (corpus / "b.txt").unlink()
    changed = rebuild(index, "--changed-only")
    assert "0 added, 1 updated, 1 removed, 1 unchanged" in changed.stdout
    stats = IndexReader.open(index).stats()
    assert stats["articles"] == 2
