"""Every setting of newsdesk, typed, read from NEWSDESK_* environment variables or a .env file."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing import Annotated

from embeddings.encoder import BACKENDS, DEFAULT_BACKEND
from retrieval.calibration import MIN_CONFIDENCE


def default_index_dir() -> Path:
    """$XDG_DATA_HOME/newsdesk/index, i.e. ~/.local/share/newsdesk/index on most systems."""
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "newsdesk" / "index"


class Settings(BaseSettings):
    """Configuration of the adapters; the core takes these values as constructor arguments."""

    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", env_file=".env", extra="ignore")

    index: Path = Field(default_factory=default_index_dir, description="index directory")
    top: int = Field(3, ge=1, le=100, description="answer sentences per reply")
    min_confidence: float = Field(MIN_CONFIDENCE, gt=0, lt=1,
                                  description="answer only when P(answerable) reaches this")
    max_file_mb: float = Field(20, gt=0, description="larger input files are skipped")
    backend: str = Field(DEFAULT_BACKEND, description="embedding backend: onnx, onnx-int8 or torch")
    telegram_bot_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "NEWSDESK_TELEGRAM_BOT_TOKEN"))
    telegram_base_url: str | None = Field(None, description="another Bot API server, e.g. a local one")
    allowed_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Telegram user ids or @usernames, comma-separated")
    allow_private_urls: bool = Field(False, description="let /add fetch loopback and private addresses")
    max_page_mb: float = Field(5, gt=0, description="largest web page /add downloads")
    fetch_timeout: float = Field(20, gt=0, description="seconds before a page download is abandoned")
    keep_days: int | None = Field(None, ge=1, description="`update` removes feed articles older than this")
    feed_delay: float = Field(1.0, ge=0, description="seconds between two requests to the same site during `update`")
    alert_check_seconds: float = Field(30, gt=0, description="how often the bot looks for new articles for /follow")
    api_token: SecretStr | None = Field(None, description="what HTTP API clients send as Authorization: Bearer")
    conversation_ttl: float = Field(1800, gt=0, description="seconds an idle web/API conversation is kept")
    max_conversations: int = Field(10_000, ge=1, description="web/API conversations kept at once")
    reader: bool = Field(True, description="let the trained sentence scorer read the first candidates and "
                                           "weigh in on what is quoted and when to refuse (false: the ranker alone)")

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        """Name the choices when NEWSDESK_BACKEND is misspelt."""
        if value not in BACKENDS:
            raise ValueError(f"NEWSDESK_BACKEND must be one of {', '.join(BACKENDS)}, not {value!r}")
        return value

    @field_validator("allowed_users", mode="before")
    @classmethod
    def _split_users(cls, value):
        """Accept "123, @ann, bob" as well as a list."""
        if isinstance(value, str):
            return [part.strip().lstrip("@") for part in value.split(",") if part.strip()]
        return value
