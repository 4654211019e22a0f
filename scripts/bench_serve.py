"""The HTTP API under load: C concurrent clients × Q questions each through a real `newsdesk serve` on 127.0.0.1.

    python scripts/bench_serve.py [--index DIR] [--clients 50] [--per-client 20] [--backend ...] [--json]

Each client is one asyncio task with its own connection and its own conversation: its first question
goes without an id, the later ones send back the id it got. A warm-up round (2 questions per client)
comes first; the server's RSS is read after it and at the end, so growth under load shows. Without
--index the sample corpus is indexed into a temporary folder first. tests/bot/test_http_load.py runs
the same clients (run_clients) against the same server (running_server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

import _bench
from embeddings.encoder import BACKENDS, DEFAULT_BACKEND

NEWSDESK = [sys.executable, "-m", "bot.cli"]
SAMPLE = _bench.REPO / "sample" / "articles"
READY = re.compile(r"page and API at (http://\S+/)$", re.MULTILINE)
WARMUP = 2  # questions per client before the first RSS reading: the pools and caches fill
# Chat-style questions about the sample corpus; each topic question is followed by a follow-up that
# only makes sense in its conversation. Clients start at different offsets, so some open on a follow-up.
QUESTIONS = [
    "how much will the harbour wall repair cost?",
    "who paid for it?",
    "how many jobs will the tallow & finch bakery create?",
    "where will the plant be built?",
    "who won the regional rowing title?",
    "how much rain did storm orla bring?",
    "how many homes lost power?",
    "what is the new heart unit at millbrook hospital called?",
    "how many beds does it have?",
    "who discovered the new comet?",
    "when will it be closest to the sun?",
    "who set the course record at the coast marathon?",
    "how much did brightmoor raise?",
    "who led the funding round?",
    "what was the hottest temperature ever in millbrook?",
    "who can get a free flu jab?",
    "who won the ostry mayor election?",
    "what did she promise to build?",
    "do wildflower strips help bees?",
    "when does the kestrel drone trial start?",
    "how long is the new tram line?",
    "what's the adult fare?",
]


class ServerError(RuntimeError):
    """`newsdesk serve` exited or did not say it was ready in time (the message holds its stderr)."""


@dataclass
class Server:
    """A running `newsdesk serve`: its base URL (ending in /), the process, and the file its stderr goes to."""

    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def rss_mb(self) -> float:
        """The server's resident memory now (VmRSS, in MB), from /proc."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


@dataclass
class Turn:
    """One request: who asked what, how long the reply took, its HTTP status and JSON (or why there was none)."""

    client: int
    question: str
    seconds: float
    status: int | None = None
    body: dict | None = None
    error: str | None = None


@dataclass
class Report:
    """Every turn of one round of clients, and the round's wall time."""

    turns: list[Turn]
    seconds: float

    def failures(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.status != 200]

    def conversations(self) -> dict[int, set[str]]:
        """Each client's conversation ids, as the replies gave them (one per client when every chat was kept)."""
        ids: dict[int, set[str]] = defaultdict(set)
        for turn in self.turns:
            if turn.body and "conversation" in turn.body:
                ids[turn.client].add(turn.body["conversation"])
        return dict(ids)

    def summary(self, name: str, rss_mb: float) -> dict:
        """One row of the output table: counts, throughput, latency and the server's RSS after the round."""
        ms = [turn.seconds * 1000 for turn in self.turns]
        return {"round": name, "requests": len(self.turns), "failures": len(self.failures()),
                "requests_per_s": round(len(self.turns) / self.seconds, 1),
                "p50_ms": round(_bench.percentile(ms, 50)), "p95_ms": round(_bench.percentile(ms, 95)),
                "max_ms": round(max(ms)), "conversations": len(set().union(*self.conversations().values())),
                "server_rss_mb": round(rss_mb, 1)}


async def run_clients(base_url: str, clients: int, per_client: int, questions: list[str] = QUESTIONS,
                      timeout: float = 120) -> Report:
    """`clients` concurrent clients asking `per_client` questions each; every turn is in the report."""
    began = time.perf_counter()
    rounds = await asyncio.gather(*(_client(base_url, number, per_client, questions, timeout)
                                    for number in range(clients)))
    return Report([turn for turns in rounds for turn in turns], time.perf_counter() - began)


async def _client(base_url: str, number: int, per_client: int, questions: list[str], timeout: float) -> list[Turn]:
    """One user on its own connection: questions from offset `number` on, in one conversation."""
    turns, conversation = [], None
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as http:
        for k in range(per_client):
            turn = await _ask(http, number, questions[(number + k) % len(questions)], conversation)
            conversation = (turn.body or {}).get("conversation", conversation)
            turns.append(turn)
    return turns


async def _ask(http: httpx.AsyncClient, client: int, question: str, conversation: str | None) -> Turn:
    """POST /api/ask once, timed; a refused or broken request becomes a Turn with the error, not an exception."""
    payload = {"question": question, **({"conversation": conversation} if conversation else {})}
    began = time.perf_counter()
    try:
        reply = await http.post("api/ask", json=payload)
        body = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        return Turn(client, question, time.perf_counter() - began, error=f"{type(exc).__name__}: {exc}")
    error = None if reply.status_code == 200 else reply.text[:300]
    return Turn(client, question, time.perf_counter() - began, reply.status_code, body, error)


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A `newsdesk` subprocess's environment: no inherited NEWSDESK_/TELEGRAM_ settings, only `extra`'s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDESK_", "TELEGRAM_"))}
    return {**env, "PYTHONPATH": str(_bench.REPO), "HF_HUB_OFFLINE": "1", **(extra or {})}


@contextlib.contextmanager
def running_server(index: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[Server]:
    """`newsdesk serve --port 0` over `index` for the length of the block, then stopped whatever happened.

    Runs in an empty folder (no .env is read); raises ServerError if it is not ready within `timeout` s.
    """
    with tempfile.TemporaryDirectory(prefix="newsdesk-serve-") as cwd:
        log = Path(cwd) / "stderr.txt"
        with log.open("w") as sink:
            process = subprocess.Popen([*NEWSDESK, "serve", "--index", str(Path(index).resolve()), "--port", "0"],
                                       cwd=cwd, env=server_env(env), stdin=subprocess.DEVNULL,
                                       stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield Server(_ready_url(process, log, timeout), process, log)
        finally:
            stop(process)


def _ready_url(process: subprocess.Popen, log: Path, timeout: float) -> str:
    """The URL from the server's ready line, once it is printed (the model is loaded by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = READY.search(log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise ServerError(f"newsdesk serve exited ({process.returncode}) before it was ready:\n"
                              f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)
    raise ServerError(f"newsdesk serve printed no ready line within {timeout:g} s:\n"
                      f"{log.read_text(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM, so uvicorn shuts down cleanly; SIGKILL when it has not exited after `grace` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sample_index(root: Path, env: dict[str, str]) -> Path:
    """An index of sample/articles at `root`, built by `newsdesk index` (about half a minute on a cold cache)."""
    result = subprocess.run([*NEWSDESK, "index", str(SAMPLE), "--index", str(root), "--quiet"], cwd=root.parent,
                            env=server_env(env), capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"newsdesk index failed:\n{result.stderr.strip()}")
    return root


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--index", type=Path, help="index to serve (default: the sample corpus, indexed now)")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument("--per-client", type=int, default=20, help="questions each client asks (default 20)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help="embedding backend of the index")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args()
    env = {"NEWSDESK_BACKEND": args.backend}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        index = args.index or sample_index(Path(tmp) / "index", env)
        with running_server(index, env) as server:
            warm = asyncio.run(run_clients(server.url, args.clients, WARMUP))
            rows = [warm.summary("warm-up", server.rss_mb())]
            run = asyncio.run(run_clients(server.url, args.clients, args.per_client))
            rows.append(run.summary("run", server.rss_mb()))
    _bench.emit("bench_serve", rows, args.json, clients=args.clients, per_client=args.per_client,
                backend=args.backend, index=str(args.index or "sample/articles (temporary)"))


if __name__ == "__main__":
    main()
