"""Hostile questions get a reply in bounded time: in `newsdesk ask`, the REPL on stdin, and Telegram."""

from __future__ import annotations

import json
import time

import pytest

from tests.robustness.conftest import ALLOWED, newsdesk

HOSTILE = {
    "empty": "",
    "whitespace": " \t \u00a0 \u2003 ",
    "100,000 characters": ("Which town opened bridge number 7? " * 3000)[:100_000],
    "control characters": "Which\x01 town\x07 opened\x1b[31m bridge\x7f number\u200b 7?\x08\x0c",
    "right-to-left": "\u202eאיזו עיר פתחה את גשר מספר 7? "
                     "ما هي المدينة التي افتتحت الجسر رقم 7؟",
    "emoji only": "🌉🏙️❓👀🇺🇦",
    "another script": "どの町が7番目の橋を開通させましたか？ Какой город открыл мост номер 7?",
}
ASK_SECONDS = 60  # a whole `newsdesk ask` process: start, load the model, answer
REPLY_SECONDS = 15  # one reply from a running REPL or bot


@pytest.mark.parametrize("kind", HOSTILE)
def test_ask_answers_a_hostile_question(towns_index, kind):
    began = time.monotonic()
    result = newsdesk("ask", "--json", "--", HOSTILE[kind], index=towns_index, timeout=ASK_SECONDS)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"question", "answered", "sentences", "undated_left_out"}
    assert len(answer["question"]) <= 1000, "the question is cut at the documented 1000 characters"
    print(f"{kind}: answered={answer['answered']} in {time.monotonic() - began:.1f}s")


@pytest.mark.slow
def test_the_repl_answers_every_hostile_line(towns_index):
    lines = [HOSTILE[kind] for kind in HOSTILE] + ["Which town opened bridge number 7?"]
    began = time.monotonic()
    result = newsdesk("repl", stdin="\n".join(lines) + "\n", index=towns_index, timeout=ASK_SECONDS * 2)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    echoes = [line for line in result.stdout.splitlines() if line.startswith("> ")]
    asked = [line.strip() for line in lines if line.strip()]  # a blank line is just a new prompt
    assert len(echoes) == len(asked)
    assert "Place7 opened bridge number 7" in result.stdout.rsplit("> Which town", 1)[1]
    print(f"REPL: {len(asked)} hostile lines answered in {time.monotonic() - began:.1f}s")


@pytest.mark.parametrize("kind", HOSTILE)
def test_telegram_answers_a_hostile_question(robust_bot, kind):
    text = HOSTILE[kind] if HOSTILE[kind].strip() else f"/ask {HOSTILE[kind]}"  # Telegram drops blank messages
    began = time.monotonic()
    [reply] = robust_bot.say(ALLOWED["id"], text, ALLOWED)
    assert reply["text"].strip() and time.monotonic() - began < REPLY_SECONDS
    assert robust_bot.emu.rejections == []
    robust_bot.wait_until(lambda: not robust_bot.emu.pending_updates(), "the bot to confirm the update")
