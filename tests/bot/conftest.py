"""A real `newsdesk serve` subprocess for the tests that talk to it over HTTP (load, web page).

The process handling lives in scripts/bench_serve.py, which benchmarks the same server: scripts/ goes on
sys.path here, as the scripts themselves run with it there (they import _bench as a sibling).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))

from bench_serve import Server, ServerError, running_server  # noqa: E402

STARTUP_SECONDS = 120  # imports and the model on a busy 2-core CI machine


@contextlib.contextmanager
def serve_process(index: Path, timeout: float = STARTUP_SECONDS, **env: str) -> Iterator[Server]:
    """`newsdesk serve --port 0` over `index` for the length of the block; NEWSDESK_* settings come only from `env`.

    Yields a Server: `.url` is the base URL ("http://127.0.0.1:PORT/"), `.process` the Popen, `.rss_mb()`
    its resident memory, `.output()` its stderr so far. Fails the test, with the server's stderr, when no
    ready line comes within `timeout` seconds; the process is always stopped (SIGTERM, then SIGKILL).
    Wrap it in a fixture of the scope you need:

        @pytest.fixture(scope="module")
        def server(sample_index):
            with serve_process(sample_index, NEWSDESK_API_TOKEN="secret") as server:
                yield server
    """
    try:
        with running_server(index, env, timeout) as server:
            yield server
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def sample_server(sample_index, encoder) -> Iterator[Server]:
    """One `newsdesk serve` over the session's sample index for the module (it only reads the index)."""
    with serve_process(sample_index, NEWSDESK_BACKEND=encoder.backend) as server:
        yield server
