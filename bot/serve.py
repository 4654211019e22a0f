"""`newsdesk serve`: the HTTP API and web page under uvicorn, loopback-only unless a token or --public says otherwise."""

from __future__ import annotations

import ipaddress
import socket
import sys

from bot.settings import Settings
from bot.wiring import open_pipeline


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problem(host: str, token: str | None, public: bool) -> str | None:
    """Why the server must not start this way, or None: other machines may only ask with a token or --public."""
    if is_loopback(host) or token or public:
        return None
    return (f"refusing to listen on {host} without an API token: set NEWSDESK_API_TOKEN "
            "(clients send Authorization: Bearer <token>), or pass --public to let anyone ask")


def run_server(settings: Settings, host: str, port: int, public: bool = False) -> int:
    """Serve until Ctrl-C or SIGTERM; the model loads before the first request is taken."""
    import uvicorn

    from bot.conversations import ConversationStore
    from bot.http_api import create_app

    token = settings.api_token.get_secret_value() if settings.api_token else None
    problem = exposure_problem(host, token, public)
    if problem:
        print(f"newsdesk serve: {problem}", file=sys.stderr)
        return 2
    pipeline = open_pipeline(settings)
    articles = pipeline.stats()["articles"]  # a missing or broken index fails here, before the port opens
    pipeline.warm()
    chats = ConversationStore(ttl=settings.conversation_ttl, cap=settings.max_conversations)
    app = create_app(pipeline, top=settings.top, token=token, conversations=chats)
    try:
        sock = _listen(host, port)
    except OSError as exc:
        print(f"newsdesk serve: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"newsdesk: {articles} articles from {settings.index}; page and API at "
          f"http://{_shown(host)}:{sock.getsockname()[1]}/", file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", server_header=False)).run(sockets=[sock])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A bound socket, so the address printed is the real one even for port 0."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    return sock


def _shown(host: str) -> str:
    """An address as it goes in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
