"""The HTTP API under load: 50 concurrent clients × 20 questions each through a real `newsdesk serve`.

Every request is answered, every client keeps its own conversation, and the server's memory stays flat.
The clients are scripts/bench_serve.py's, which prints the same run's throughput and latency.
"""

from __future__ import annotations

import asyncio

from bench_serve import WARMUP, run_clients  # scripts/ is on sys.path: see tests/bot/conftest.py
from bot.http_api import AskReply

CLIENTS, PER_CLIENT = 50, 20
# Measured: +11 MB over the first 1000 turns (worker threads' buffers at full concurrency, the 50 chats
# kept), then +3 MB per further 1000. A leak of 100 kB a request (an answer's vectors kept) fails it.
RSS_GROWTH_MB = 100


def test_fifty_clients_are_all_answered_in_their_own_conversations_with_flat_memory(sample_server):
    asyncio.run(run_clients(sample_server.url, CLIENTS, WARMUP))
    warm = sample_server.rss_mb()
    report = asyncio.run(run_clients(sample_server.url, CLIENTS, PER_CLIENT))
    grown = sample_server.rss_mb() - warm

    assert len(report.turns) == CLIENTS * PER_CLIENT
    failed = report.failures()
    assert not failed, f"{len(failed)} failed, e.g. {failed[0]}\n{sample_server.output()[-3000:]}"
    for turn in report.turns:
        reply = AskReply.model_validate(turn.body)
        assert reply.question == turn.question  # no reply crossed over to another client
    chats = report.conversations()
    assert sorted(chats) == list(range(CLIENTS)) and all(len(ids) == 1 for ids in chats.values()), chats
    assert len(set().union(*chats.values())) == CLIENTS
    assert grown < RSS_GROWTH_MB, f"RSS grew {grown:.0f} MB over {len(report.turns)} requests (from {warm:.0f} MB)"
