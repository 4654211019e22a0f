"""Schemathesis fuzzes the API from its own /openapi.json: no input may cause a 500 or a reply the schema does not allow.

Each operation's cases come from `APIOperation.as_strategy` under plain Hypothesis, because schemathesis'
pytest fixture loader does not run under pytest 9. The app is fuzzed open and with a token (where
schemathesis also checks that bad credentials are refused).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from bot.http_api import create_app

EXAMPLES = 60  # per operation, mode and app: about 15 s in all
TOKEN = "fuzz-token"


def operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_the_schema_lists_every_endpoint(sample_pipeline):
    assert {op.label for op in operations(create_app(sample_pipeline))} == {
        "POST /api/ask", "GET /api/articles/{article_id}", "GET /api/stats", "GET /api/health"}


@pytest.mark.parametrize("token", [None, TOKEN], ids=["open", "token"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_fuzzed_requests_get_no_500_and_replies_match_the_schema(sample_pipeline, mode, token):
    headers = {"Authorization": f"Bearer {token}"} if token else None
    for operation in operations(create_app(sample_pipeline, token=token)):
        if mode is GenerationMode.NEGATIVE and not operation.body:
            continue  # only /api/ask's body has constraints to break; any string is a (maybe unknown) article id
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=headers)

        check()
