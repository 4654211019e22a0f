"""The HTTP adapter: a FastAPI app over `Pipeline.ask`, and the web page that shows every quote in its article.

Answers run in worker threads, a few at a time, off the event loop; the schema at /openapi.json comes
from the pydantic models below.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import re
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from bot.conversations import ConversationStore
from retrieval.filters import Filters, parse_date
from retrieval.models import Answer, StoredArticle
from retrieval.pipeline import MAX_QUESTION_CHARS

log = logging.getLogger("newsdesk.http")
WEB = Path(__file__).with_name("web")
MAX_BODY_BYTES = 64 * 1024
MAX_TOP = 20
# The page loads only its own files, so text that slips through as markup still cannot run or load anything.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


NOT_SPACE = re.compile("[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]")


def _date(value: Any) -> dt.date:
    """"YYYY-MM-DD", "YYYY-MM" or "YYYY" → a date, as on the command line (not a number of seconds)."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError("a date is a string: YYYY-MM-DD, YYYY-MM or YYYY")
    return parse_date(value)


def _whole(value: Any) -> Any:
    """8.0 is the integer 8 in JSON Schema; true and "8" stay errors."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


DateText = Annotated[dt.date, BeforeValidator(_date),
                     Field(description="YYYY-MM-DD, YYYY-MM (its first day) or YYYY (1 January)")]


class AskRequest(BaseModel):
    """A question, with the filters `newsdesk ask` takes, and the conversation it continues (if any)."""

    model_config = ConfigDict(extra="forbid", strict=True)  # `"top": "3"` or `true` is an error, not a guess

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, json_schema_extra={"pattern": r"\S"},
                          description="the question, as typed; not only spaces")
    top: Annotated[int, Field(ge=1, le=MAX_TOP), BeforeValidator(_whole)] | None = Field(
        None, description="up to this many answer sentences")
    since: DateText | None = None
    until: DateText | None = None
    source: str | None = Field(None, min_length=1, max_length=200, description="only articles from this source")
    as_of: DateText | None = Field(None, description='resolve time words ("yesterday", "in March") against this day')
    conversation: str | None = Field(None, max_length=64, description="the id a previous answer returned")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        """The schema's pattern `\S`, with JSON Schema's (ECMAScript's) idea of white space, not Python's."""
        if not NOT_SPACE.search(value):
            raise ValueError("the question is empty")
        return value


class AskReply(Answer):
    """The Answer JSON of `newsdesk ask --json`, plus the conversation id to send with a follow-up."""

    conversation: str


class Health(BaseModel):
    status: str = "ok"
    articles: int


class ErrorReply(BaseModel):
    detail: str


def _errors(*codes: int) -> dict:
    """The error replies an endpoint documents, all `{"detail": ...}` (422s keep FastAPI's own shape)."""
    return {code: {"model": ErrorReply} for code in codes}


def create_app(pipeline, top: int = 3, token: str | None = None,
               conversations: ConversationStore | None = None, answer_slots: int | None = None) -> FastAPI:
    """The app: /api/ask, /api/articles/{id}, /api/stats, /api/health, and the page at /."""
    app = FastAPI(title="newsdesk", summary="Answers quoted from news articles, each with a citation.",
                  docs_url=None, redoc_url=None)
    chats = conversations or ConversationStore()
    # Answers are CPU-bound: more at once than cores only makes each slower (measured: 50 clients get
    # twice the throughput with 2 slots as with one thread each), and the waiting is done on the event loop.
    slots = anyio.CapacityLimiter(answer_slots or os.cpu_count() or 2)
    authorised = [Depends(bearer_check(token))] if token else []
    refusals = (401, 413) if token else (413,)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.middleware("http")(_security_headers)
    app.add_exception_handler(Exception, _internal_error)

    @app.post("/api/ask", response_model=AskReply, dependencies=authorised, responses=_errors(400, *refusals))
    async def ask(request: AskRequest) -> AskReply:
        """Answer with quoted sentences, or `answered: false` when the articles do not hold the answer."""
        chat = chats.get(request.conversation)
        return await anyio.to_thread.run_sync(_answer, pipeline, chat, request, top, limiter=slots)

    @app.get("/api/articles/{article_id:path}", response_model=StoredArticle, dependencies=authorised,
             responses=_errors(404, *refusals))
    def article(article_id: str) -> StoredArticle:
        """The stored article a citation points into."""
        found = pipeline.article(article_id)
        if found is None:
            raise HTTPException(404, f"no article {article_id!r}")
        return StoredArticle.of(found)

    @app.get("/api/stats", dependencies=authorised, responses=_errors(*refusals))
    def stats() -> dict[str, int | str | list[str] | None]:
        """Counts, model and generation of the index (not where it lies on the server's disk), how many sources,
        the first and last article dates, and the newest headlines."""
        return {k: v for k, v in pipeline.stats().items() if k != "index"} | pipeline.overview()

    @app.get("/api/health")
    def health() -> Health:
        """Liveness, with the number of articles searched (needs no token)."""
        return Health(articles=pipeline.stats()["articles"])

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB / "index.html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app


def _answer(pipeline, chat, request: AskRequest, top: int) -> AskReply:
    """One turn of one chat, in a worker thread; a chat's turns go one at a time, in order."""
    filters = Filters(since=request.since, until=request.until, source=request.source)
    with chat.lock:
        answer = pipeline.ask(request.question, conversation=chat.conversation, top=request.top or top,
                              filters=filters, as_of=request.as_of)
    return AskReply(**answer.model_dump(), conversation=chat.id)


def bearer_check(token: str):
    """A dependency that wants `Authorization: Bearer <token>`, compared in constant time (and in the schema)."""
    scheme = HTTPBearer(auto_error=False, description="the server's NEWSDESK_API_TOKEN")

    def check(credentials: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not hmac.compare_digest(given, token.encode()):
            raise HTTPException(401, "a valid API token is needed: Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": "Bearer"})

    return check


async def _security_headers(request: Request, call_next):
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Log the traceback here; the client gets a JSON error without it."""
    log.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse({"detail": "internal error (logged by the server)"}, status_code=500)


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 before the app reads it."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            return await _too_large(scope, receive, send, self.max_bytes)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message]), send)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await _too_large(scope, receive, send, self.max_bytes)
            more = message.get("more_body", False)
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks)}], receive), send)


def _replay(messages: list, then=None):
    """A `receive` that hands out `messages` first, then defers to `then` (e.g. to hear a disconnect)."""
    async def receive():
        if messages:
            return messages.pop(0)
        return await then() if then else {"type": "http.disconnect"}
    return receive


async def _too_large(scope, receive, send, limit: int) -> None:
    response = JSONResponse({"detail": f"request body over {limit} bytes"}, status_code=413)
    await response(scope, receive, send)
