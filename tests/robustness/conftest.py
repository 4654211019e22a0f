"""Shared helpers for the robustness tests: generated corpora, the real `newsdesk` subprocess, index
snapshots, tiny or read-only filesystems, and one `newsdesk telegram` process for the session."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bot.test_telegram_e2e import running_bot
from tests.conftest import NEWSDESK, REPO
from tests.telegram_emulator import Emulator

ALLOWED = {"id": 5001, "is_bot": False, "first_name": "Ann", "username": "ann"}
STRANGER = {"id": 6666, "is_bot": False, "first_name": "Eve", "username": "eve"}
CROWD = [{"id": 7000 + n, "is_bot": False, "first_name": f"User{n}", "username": f"user{n}"} for n in range(50)]


def town_article(number: int) -> str:
    """A tiny article about one numbered town: each is the only one that answers its own question."""
    return (f"Bridge report {number}\n\nThe town of Place{number} opened bridge number {number} on Monday. "
            f"The mayor said it cost {number} million crowns. Residents of Place{number} cheered the opening.\n")


def town_question(number: int) -> str:
    """The question only town `number`'s article answers."""
    return f"Which town opened bridge number {number}?"


def write_corpus(folder: Path, numbers: range) -> Path:
    """One .txt file per town number in `folder`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        (folder / f"town{number:04d}.txt").write_text(town_article(number))
    return folder


def child_env(**extra: str) -> dict:
    """The environment of a `newsdesk` subprocess: no inherited NEWSDESK_/TELEGRAM_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDESK_", "TELEGRAM_"))}
    return {**env, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", **extra}


def command_line(args: tuple[str, ...], index: Path | None) -> list[str]:
    """`newsdesk COMMAND --index INDEX ARGS...`: the option before the arguments, so `--` can end options."""
    return [*NEWSDESK, args[0], *(["--index", str(index)] if index else []), *args[1:]]


def newsdesk(*args: str, index: Path | None = None, stdin: str | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `newsdesk COMMAND [--index INDEX] ARGS` to completion and return its result (text mode)."""
    return subprocess.run(command_line(args, index), input=stdin, capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, env=child_env())


def start_newsdesk(*args: str, index: Path, stdin=None) -> subprocess.Popen:
    """Start `newsdesk COMMAND --index INDEX ARGS` in the background; stdout and stderr are pipes (text)."""
    return subprocess.Popen(command_line(args, index), cwd=REPO, env=child_env(), stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def snapshot(index: Path) -> tuple[str | None, frozenset[str]]:
    """The committed generation and its article ids, after the reader's own validation of the counts."""
    from embeddings.storage.reader import IndexReader

    reader = IndexReader.open(index)
    try:
        ids = frozenset(row[0] for row in reader.db.execute("SELECT id FROM articles"))
        return reader.generation, ids
    finally:
        reader.close()


def file_digests(index: Path) -> dict[str, str]:
    """sha256 of every file under the index directory, to prove it is untouched: all but the lock file and
    SQLite's write-ahead log and its index (-wal, -shm), which a writer creates on opening and which hold
    nothing committed after a failed write."""
    return {str(p.relative_to(index)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(index.rglob("*"))
            if p.is_file() and p.name != ".lock" and not p.name.endswith(("-wal", "-shm"))}


@contextlib.contextmanager
def tmpfs(where: Path, size: str):
    """A tmpfs of `size` mounted at `where` (root only); skips the test where mounting is impossible."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def make_read_only(path: Path) -> None:
    """Make a tmpfs mount point read-only (root ignores file modes, so a remount is the real thing)."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def build_index(root: Path, corpus: Path, encoder) -> Path:
    """Index `corpus` into `root` in-process with the session's model."""
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths

    report = Indexer(root, encoder, show_progress=False).run(load_paths([corpus]), prune=[corpus])
    assert not report.problems, report.problems
    return root


@pytest.fixture(scope="session")
def towns_index(tmp_path_factory, encoder) -> Path:
    """An index of 60 tiny town articles (tests must not modify it)."""
    tmp = tmp_path_factory.mktemp("towns")
    return build_index(tmp / "index", write_corpus(tmp / "corpus", range(60)), encoder)


@pytest.fixture(scope="session")
def page_limits() -> dict:
    """The /add limits the session's bot runs with."""
    return {"NEWSDESK_MAX_PAGE_MB": "0.05", "NEWSDESK_FETCH_TIMEOUT": "2"}


@pytest.fixture(scope="session")
def robust_bot(tmp_path_factory, towns_index, encoder, page_limits):
    """`newsdesk telegram` over a copy of the towns index; Ann and the crowd allowed; private URLs refused."""
    tmp = tmp_path_factory.mktemp("robust-bot")
    index = shutil.copytree(towns_index, tmp / "index")  # its own copy: a test writes to it
    emu = Emulator(privacy_mode=False)
    emu.start()
    env = child_env(TELEGRAM_BOT_TOKEN=emu.token, NEWSDESK_BACKEND=encoder.backend,
                    NEWSDESK_ALLOWED_USERS=",".join(str(u["id"]) for u in [ALLOWED, *CROWD]), **page_limits)
    with running_bot(emu, index, env, tmp, 60, "") as session:
        yield session
