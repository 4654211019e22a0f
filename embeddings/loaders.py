"""Files and folders → Articles (.jsonl, .html/.htm, .txt, .md); a bad file is reported by name and skipped."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from embeddings.models import Article

SUFFIXES = {".jsonl", ".html", ".htm", ".txt", ".md"}
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """Why a file (or one line of a JSONL file) was not indexed."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


class SkipFile(Exception):
    """Raised by a reader to skip the file it is reading, with the reason as message."""


def iter_files(root: Path) -> Iterator[Path]:
    """Supported files under `root` in a stable order, following symlinks but never looping."""
    if root.is_file():
        yield root
        return
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def load_paths(paths: list[Path], max_bytes: int = MAX_FILE_BYTES) -> Iterator[Article | Problem]:
    """Every article found under `paths`, interleaved with a Problem for each thing skipped."""
    for root in paths:
        if not root.exists():
            yield Problem(str(root), "no such file or folder")
            continue
        base = root if root.is_dir() else root.parent
        for path in iter_files(root):
            yield from load_file(path, article_id=path.relative_to(base).as_posix(), max_bytes=max_bytes)


def load_file(path: Path, article_id: str, max_bytes: int = MAX_FILE_BYTES) -> Iterator[Article | Problem]:
    """The article(s) in one file, or a Problem saying why there are none."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield Problem(str(path), f"unsupported file type {suffix or '(none)'}; newsdesk reads {', '.join(sorted(SUFFIXES))}")
        return
    try:
        data = _read_bytes(path, max_bytes)
        if suffix == ".jsonl":
            yield from _jsonl_articles(path, _decode(data))
        elif suffix in (".html", ".htm"):
            yield _html_article(path, article_id, data)
        else:
            yield _text_article(path, article_id, _decode(data), markdown=suffix == ".md")
    except SkipFile as exc:
        yield Problem(str(path), str(exc))
    except OSError as exc:
        yield Problem(str(path), f"cannot read: {exc.strerror or exc}")


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing empty, oversized and binary files."""
    size = path.stat().st_size
    if size == 0:
        raise SkipFile("empty file")
    if size > max_bytes:
        raise SkipFile(f"file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit per file")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise SkipFile("binary file (contains NUL bytes), not text")
    return data


def _decode(data: bytes) -> str:
    """UTF-8 text with Windows line endings normalised; other encodings are refused with a hint."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(
            f"not UTF-8 (invalid byte at offset {exc.start}); convert it, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
    return _unix_newlines(text)


def _unix_newlines(text: str) -> str:
    """Windows and old-Mac line endings become \\n, so paragraph splitting sees one convention."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _html_article(path: Path, article_id: str, data: bytes) -> Article:
    """Main text and metadata of a web page, extracted by trafilatura."""
    from embeddings.html import html_to_page

    page = html_to_page(data)
    if page is None or not page.text.strip():
        raise SkipFile("no article text found in the page (only scripts, navigation or a login wall?)")
    return Article(
        id=article_id, title=page.title or path.stem, text=page.text, date=page.date,
        url=page.url, source=page.source, author=page.author, origin=str(path.resolve()),
    )


_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def _text_article(path: Path, article_id: str, text: str, markdown: bool) -> Article:
    """A plain-text or Markdown article; scraped-page furniture is removed by the cleaning rules.

    Title, date, URL and source come from YAML front matter first; else the title is the first Markdown
    heading or the page's headline, and the date a date line ("Date: ...", a line that is one date) or the
    first full date of the first paragraph.
    """
    from embeddings.cleaning import clean_scraped_text
    from embeddings.text_metadata import FrontMatterError, opening_date, split_front_matter

    try:
        meta, text = split_front_matter(text)
    except FrontMatterError as exc:
        raise SkipFile(str(exc)) from None
    title = ""
    if markdown:
        title, text = _split_markdown(text)
    page = clean_scraped_text(text)
    if not page.text.strip():
        raise SkipFile("no article text left after removing page furniture")
    return Article(
        id=article_id, title=meta.title or title or page.title or path.stem, text=page.text,
        date=meta.date or page.date or opening_date(page.text), url=meta.url, source=meta.source or page.source,
        author=meta.author or page.author, origin=str(path.resolve()),
    )


def _split_markdown(text: str) -> tuple[str, str]:
    """The first heading as title, and the body with heading lines turned into paragraph breaks."""
    title, body = "", []
    for line in text.split("\n"):
        match = _HEADING.match(line)
        if match:
            title = title or match.group(2)
            body.append("")
        else:
            body.append(line)
    return title, "\n".join(body)


def _jsonl_articles(path: Path, text: str) -> Iterator[Article | Problem]:
    """One article per line; a broken line is reported with its number and the others are kept."""
    origin = str(path.resolve())
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            yield _article_from_record(record, origin)
        except ValueError as exc:
            yield Problem(str(path), _short(exc), line=number)


def _article_from_record(record: dict, origin: str) -> Article:
    """Validate one JSONL record into an Article (pydantic's errors name the bad field)."""
    from pydantic import ValidationError

    for field in ("id", "text"):
        if not str(record.get(field) or "").strip():
            raise ValueError(f"missing or empty {field!r}")
    date = record.get("date")
    try:
        return Article(
            id=str(record["id"]), title=str(record.get("title") or ""), text=_unix_newlines(str(record["text"])),
            date=str(date)[:10] if date else None, url=record.get("url"), source=record.get("source"),
            author=record.get("author"), origin=origin,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ValueError(f"bad {'.'.join(map(str, error['loc']))}: {error['msg']}") from None


def _short(exc: Exception) -> str:
    """A one-line reason for a problem report."""
    return f"invalid JSON ({exc})" if isinstance(exc, json.JSONDecodeError) else str(exc)
