"""URL → Article: download one web page (or feed) safely and extract it the same way as an .html file."""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
import urllib.request
from importlib.metadata import PackageNotFoundError, version
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

from embeddings.models import Article

MAX_REDIRECTS = 5


def _user_agent() -> str:
    """"newsdesk/VERSION (...)": sites can tell who fetches their pages and feeds."""
    try:
        return f"newsdesk/{version('newsdesk')} (news question answering; article and feed indexer)"
    except PackageNotFoundError:
        return "newsdesk (news question answering; article and feed indexer)"


USER_AGENT = _user_agent()


class FetchError(Exception):
    """A page that cannot be added; the message is shown to the user as is, `status` is the HTTP status
    when the server answered with an error."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def check_url(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to private, loopback or link-local addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"only http:// and https:// URLs can be added, not {url!r}")
    if not allow_private:
        public_addresses(parts.hostname, parts.port or 443)


def public_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, if every one of them is public; else FetchError."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = [info[4][0].split("%")[0] for info in infos]
    for address in addresses:
        if not ipaddress.ip_address(address).is_global:
            raise FetchError(f"{host} resolves to a non-public address ({address}); refused")
    return addresses


def _client(url: str, allow_private: bool, timeout: float):
    """An HTTP client for one request. Unless a proxy from the environment carries it (the proxy then
    resolves the name), it connects only to an address it has just checked, in the same lookup, so
    a DNS answer that changes after check_url (DNS rebinding) cannot lead to a private address."""
    import httpx

    direct = not allow_private and not _proxied(url)
    return httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT},
                        verify=_ssl_context(), transport=_public_only_transport() if direct else None)


@functools.cache
def _ssl_context():
    """One TLS context for every request: loading the CA bundle costs ~30 ms, more than a fetch of a 304."""
    import httpx

    return httpx.create_ssl_context()


def _proxied(url: str) -> bool:
    """Whether httpx would send `url` through a proxy named in the environment (HTTP_PROXY, NO_PROXY, ...)."""
    parts, proxies = urlsplit(url), urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def _public_only_transport():
    """httpx's transport over a connection pool whose every TCP connect goes to a checked public address;
    TLS still verifies the certificate against the URL's host name."""
    import httpcore
    import httpx

    class PublicOnlyBackend(httpcore.SyncBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            address = public_addresses(host, port)[0]
            return super().connect_tcp(address, port, timeout, local_address, socket_options)

    transport = httpx.HTTPTransport(verify=_ssl_context())
    # httpx takes no network backend, so its pool is replaced by one built with httpcore's public API.
    transport._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=PublicOnlyBackend())
    return transport


HTML_KINDS = ("text/html", "application/xhtml+xml")


class Response(NamedTuple):
    """A finished download: the URL after redirects, the status (200, or 304 with no body), headers, body."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


def download(url: str, *, allow_private: bool, max_bytes: int, timeout: float) -> tuple[str, bytes]:
    """The final URL and body of a web page (see `get`)."""
    response = get(url, allow_private=allow_private, max_bytes=max_bytes, timeout=timeout)
    return response.url, response.body


def get(url: str, *, allow_private: bool, max_bytes: int, timeout: float, headers: dict | None = None,
        kinds: tuple[str, ...] = HTML_KINDS) -> Response:
    """GET `url`, checking every redirect hop, within `max_bytes` and `timeout` s in all; the body must be
    one of `kinds`. With conditional `headers` (If-None-Match, If-Modified-Since) a 304 is an answer too."""
    import httpx

    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, allow_private)
        try:
            with _client(url, allow_private, timeout) as client, \
                    client.stream("GET", url, headers=headers) as response:
                if response.has_redirect_location:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code == 304 and headers:
                    return Response(url, 304, dict(response.headers), b"")
                body = _read_body(response, url, max_bytes, deadline, timeout, kinds)
                return Response(url, response.status_code, dict(response.headers), body)
        except httpx.TimeoutException:
            raise FetchError(f"{url} did not answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot download {url}: {exc}") from None
    raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")


def _read_body(response, url: str, max_bytes: int, deadline: float, timeout: float, kinds: tuple[str, ...]) -> bytes:
    """The response body if it is of one of `kinds` within the size limit, read before the deadline."""
    if response.status_code != 200:
        raise FetchError(f"{url} answered HTTP {response.status_code}", status=response.status_code)
    kind = response.headers.get("content-type", "text/html").split(";")[0].strip().lower()
    if kind not in kinds:
        raise FetchError(f"{url} is {kind}, not a web page" if kinds == HTML_KINDS else f"{url} is {kind}")
    if int(response.headers.get("content-length") or 0) > max_bytes:
        raise FetchError(f"{url} is larger than the {max_bytes / 2**20:g} MB limit")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"{url} is larger than the {max_bytes / 2**20:g} MB limit")
        if time.monotonic() > deadline:
            raise FetchError(f"{url} did not finish downloading within {timeout:g} s")
    return bytes(body)


def fetch_article(url: str, *, allow_private: bool = False, max_bytes: int = 5 * 2**20,
                  timeout: float = 20.0) -> Article:
    """Download a page and extract its article; the URL is the article's id."""
    from embeddings.html import html_to_page

    final_url, body = download(url, allow_private=allow_private, max_bytes=max_bytes, timeout=timeout)
    page = html_to_page(body, url=final_url)
    if page is None or not page.text.strip():
        raise FetchError(f"no article text found at {final_url}")
    return Article(id=url, title=page.title or final_url, text=page.text, date=page.date,
                   url=page.url or final_url, source=page.source, author=page.author, origin=url)
