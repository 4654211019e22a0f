"""The HTTP API over the real sample index, through httpx (Starlette's TestClient): answers, conversations,
articles, bad input as 4xx JSON, the body cap, the token, and answers off the event loop."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
from fastapi.testclient import TestClient

from bot import render
from bot.conversations import ConversationStore
from bot.http_api import MAX_BODY_BYTES, create_app
from bot.serve import exposure_problem
from tests.conftest import NEWSDESK, assert_quotes_are_exact


@pytest.fixture(scope="module")
def client(sample_pipeline):
    with TestClient(create_app(sample_pipeline)) as c:
        yield c


def ask(client, **body):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_ask_returns_the_cli_answer_json_plus_a_conversation(client, sample_pipeline):
    reply = ask(client, question="how much did the tram cost")
    cli = json.loads(render.to_json(sample_pipeline.ask("how much did the tram cost")))
    assert reply.pop("conversation")
    assert reply == cli
    assert reply["answered"] and reply["sentences"][0]["text"] == "The line cost $310 million to build."


def test_a_follow_up_in_the_same_conversation_stays_on_its_story(client):
    first = ask(client, question="was there a storm?")
    follow = ask(client, question="how much rain fell?", conversation=first["conversation"])
    alone = ask(client, question="how much rain fell?")
    assert follow["conversation"] == first["conversation"] != alone["conversation"]
    assert follow["answered"] and not alone["answered"]
    assert follow["sentences"][0]["citation"]["article_id"] == "wire-2025-1109-storm-orla"


def test_an_unknown_conversation_id_starts_a_new_one(client):
    reply = ask(client, question="was there a storm?", conversation="expired-or-made-up")
    assert reply["conversation"] != "expired-or-made-up"


def test_filters_and_top_are_applied(client):
    bounded = ask(client, question="was there a storm?", since="2025-11", until="2025-11-30", top=1)
    assert len(bounded["sentences"]) == 1
    assert bounded["sentences"][0]["citation"]["article_id"] == "wire-2025-1109-storm-orla"
    later = ask(client, question="was there a storm?", since="2026")["sentences"]
    assert later and all(s["citation"]["date"] >= "2026-01-01" for s in later)
    assert not ask(client, question="was there a storm?", source="Northline News")["answered"]


def test_an_off_corpus_question_is_not_answered(client):
    reply = ask(client, question="who won the world cup final in qatar?")
    assert reply == {"question": reply["question"], "answered": False, "sentences": [], "undated_left_out": 0,
                     "conversation": reply["conversation"]}


@pytest.mark.parametrize("body, field, words", [
    ({"question": ""}, "question", "at least 1 character"),
    ({"question": "   "}, "question", "empty"),
    ({"question": "x" * 1001}, "question", "at most 1000"),
    ({}, "question", "required"),
    ({"question": "storm", "since": "2025-13"}, "since", "not a date"),
    ({"question": "storm", "until": 20250101}, "until", "a date is a string"),
    ({"question": "storm", "top": 0}, "top", "greater than or equal to 1"),
    ({"question": "storm", "top": "3"}, "top", "integer"),
    ({"question": "storm", "colour": "red"}, "colour", "not permitted"),
])
def test_bad_input_is_a_422_that_names_the_field(client, body, field, words):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(error["loc"][-1] == field and words in error["msg"] for error in errors), errors


def test_a_body_that_is_not_json_is_a_4xx(client):
    response = client.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500 and "detail" in response.json()


def test_an_oversized_body_is_refused_before_it_is_read(client):
    body = json.dumps({"question": "storm", "source": "x" * MAX_BODY_BYTES}).encode()
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "bytes" in response.json()["detail"]


def test_a_cited_article_holds_the_quote_at_its_offsets(client, sample_pipeline):
    reply = ask(client, question="how much did the tram cost")
    citation = reply["sentences"][0]["citation"]
    article = client.get(f"/api/articles/{citation['article_id']}").json()  # the id holds a slash
    assert article["text"][citation["start"]:citation["end"]] == reply["sentences"][0]["text"]
    assert set(article) == {"id", "title", "date", "url", "source", "text"}
    missing = client.get("/api/articles/no/such/article")
    assert missing.status_code == 404 and "no/such/article" in missing.json()["detail"]


def test_stats_and_health(client):
    stats = client.get("/api/stats").json()
    assert stats["articles"] == 15 and "index" not in stats  # no server paths
    assert client.get("/api/health").json() == {"status": "ok", "articles": 15}


def test_the_page_and_its_files_are_served_with_a_strict_content_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]


def test_with_a_token_the_api_wants_it_and_health_does_not(sample_pipeline):
    with TestClient(create_app(sample_pipeline, token="s3cret")) as c:
        assert c.post("/api/ask", json={"question": "storm"}).status_code == 401
        wrong = c.get("/api/stats", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert c.get("/api/stats", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/api/health").status_code == 200


def test_a_failure_inside_the_pipeline_is_a_json_500_without_a_traceback():
    class Broken:  # an internal failure the real pipeline cannot be made to have on demand
        def ask(self, *args, **kwargs):
            raise RuntimeError("secret internals")

    with TestClient(create_app(Broken()), raise_server_exceptions=False) as c:
        response = c.post("/api/ask", json={"question": "storm"})
    assert response.status_code == 500 and "secret" not in response.text
    assert response.json()["detail"].startswith("internal error")


def test_a_slow_answer_does_not_hold_up_the_others(sample_pipeline):
    release = threading.Event()

    class SlowOnce:
        """The real pipeline, except that one question waits until the test lets it go."""

        def __getattr__(self, name):
            return getattr(sample_pipeline, name)

        def ask(self, question, **kwargs):
            if question == "slow":
                release.wait(30)
            return sample_pipeline.ask(question, **kwargs)

    with TestClient(create_app(SlowOnce())) as c:
        slow = threading.Thread(target=c.post, args=("/api/ask",), kwargs={"json": {"question": "slow"}})
        slow.start()
        time.sleep(0.2)
        started = time.monotonic()
        assert ask(c, question="was there a storm?")["answered"]
        assert c.get("/api/health").status_code == 200
        assert time.monotonic() - started < 10 and slow.is_alive()
        release.set()
        slow.join(30)


def test_the_conversation_store_forgets_idle_chats_and_keeps_a_cap():
    now = [0.0]
    store = ConversationStore(ttl=60, cap=2, clock=lambda: now[0])
    first = store.get(None)
    assert store.get(first.id) is first
    now[0] = 61
    assert store.get(first.id).id != first.id  # expired
    a, b, c = store.get(None), store.get(None), store.get(None)
    assert len(store) == 2 and store.get(a.id).id != a.id  # the least recently used went first


@pytest.mark.parametrize("host, token, public, refused", [
    ("127.0.0.1", None, False, False), ("::1", None, False, False), ("localhost", None, False, False),
    ("0.0.0.0", None, False, True), ("192.168.1.5", None, False, True),
    ("0.0.0.0", "t", False, False), ("0.0.0.0", None, True, False),
])
def test_only_loopback_may_listen_without_a_token(host, token, public, refused):
    assert (exposure_problem(host, token, public) is not None) == refused


def test_serve_refuses_a_public_address_without_a_token(sample_index):
    result = subprocess.run([*NEWSDESK, "serve", "--index", str(sample_index), "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2 and "NEWSDESK_API_TOKEN" in result.stderr
