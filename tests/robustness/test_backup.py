"""The README's backup recipe, run as written: the copy it makes is a whole, working index."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from embeddings.storage.reader import IndexReader
from tests.conftest import REPO
from tests.robustness.conftest import build_index, snapshot, town_question, write_corpus


def readme_recipe() -> str:
    """The backup command line of the README's Operations section."""
    [line] = re.findall(r"^flock \.lock sh -c .*$", (REPO / "README.md").read_text(), re.MULTILINE)
    return line


def test_the_readme_backup_recipe_copies_a_whole_index_while_a_reader_holds_it_open(towns_index, tmp_path,
                                                                                    encoder):
    from retrieval.pipeline import Pipeline

    index = shutil.copytree(towns_index, tmp_path / "index")
    reader = IndexReader.open(index)  # keeps the log from being folded into the database on close
    corpus = write_corpus(tmp_path / "corpus", range(40, 90))  # towns 0-39 go, 60-89 come: a second segment
    build_index(index, corpus, encoder)
    assert (index / "index.sqlite-wal").exists(), "committed pages are still in the write-ahead log"
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(["sh", "-c", readme_recipe()], cwd=index, env={**os.environ, "HOME": str(home)},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    reader.close()
    restored = shutil.copytree(home / "backup", tmp_path / "restored")
    assert snapshot(restored) == snapshot(index)
    assert IndexReader.open(restored).segments == IndexReader.open(index).segments >= 1
    assert IndexReader.open(restored).lexical is not None, "the lexical index comes along, at its generation"
    answer = Pipeline(restored, encoder).ask(town_question(75))
    assert answer.answered and "Place75 opened" in answer.sentences[0].text
