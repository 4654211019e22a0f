"""Telegram's rules for the emulator: HTML parse_mode, text limits, user entities, parameters, markup.

The HTML parser follows tdlib's ``do_parse_html`` (td/telegram/MessageEntity.cpp), including its
error wording, with one deliberate difference: a bare "&" that starts no entity is rejected here
(``strict_ampersand=True``), although real Telegram keeps it literally. The Bot API docs require it
escaped, and text that forgets escaping "&" usually also forgets "<", which Telegram does reject.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
from urllib.parse import parse_qsl

SPACES = " \t\r\n\f\v\0"
TAGS = {
    "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "tg-emoji", "pre", "code", "blockquote",
}
SIMPLE_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "span": "spoiler", "tg-spoiler": "spoiler",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}\b")


class HtmlError(ValueError):
    """The text cannot be parsed as Telegram HTML; str(error) is tdlib's wording."""


def utf16_len(text: str) -> int:
    """Length of text in UTF-16 code units, the unit of Telegram offsets and limits."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the HTML entity at text[pos] ('&'); return (character, next position) or None."""
    end = pos + 1
    if text[end:end + 1] == "#":
        end += 1
        hexa = text[end:end + 1] == "x"
        end += hexa
        digits = "0123456789abcdefABCDEF" if hexa else "0123456789"
        start = end
        while end < len(text) and text[end] in digits:
            end += 1
        value = int(text[start:end], 16 if hexa else 10) if end > start else 0
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        char = NAMED_ENTITIES.get(text[pos + 1:end])
        if char is None:
            return None
    return char, end + (text[end:end + 1] == ";")


class _HtmlParser:
    """One pass over the text, as tdlib does it: plain text out, entities in UTF-16 offsets."""

    def __init__(self, text: str, strict_ampersand: bool):
        self.text, self.strict = text, strict_ampersand
        self.out: list[str] = []
        self.u16 = 0
        self.stack: list[tuple[str, str, int, int]] = []
        self.entities: list[dict] = []

    def byte_offset(self, pos: int) -> int:
        """UTF-8 byte offset of a character position, as tdlib reports it."""
        return len(self.text[:pos].encode("utf-8", "surrogatepass"))

    def emit(self, chars: str) -> None:
        """Append decoded text."""
        self.out.append(chars)
        self.u16 += utf16_len(chars)

    def run(self) -> tuple[str, list[dict]]:
        """Parse the whole text."""
        text, i = self.text, 0
        while i < len(text):
            if text[i] == "&":
                decoded = decode_entity(text, i)
                if decoded:
                    self.emit(decoded[0])
                    i = decoded[1]
                    continue
                if self.strict:
                    raise HtmlError(f'Unescaped "&" at byte offset {self.byte_offset(i)} '
                                    '(emulator strict mode; real Telegram keeps a bare "&")')
            if text[i] != "<":
                self.emit(text[i])
                i += 1
            elif text[i + 1:i + 2] == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def skip_spaces(self, i: int) -> int:
        """Index of the next non-space character."""
        while i < len(self.text) and self.text[i] in SPACES:
            i += 1
        return i

    def start_tag(self, begin: int) -> int:
        """Parse '<tag attr=...>' starting at begin; return the index after '>'."""
        text, i = self.text, begin + 1
        while i < len(text) and text[i] not in SPACES and text[i] != ">":
            i += 1
        offset = self.byte_offset(begin)
        if i >= len(text):
            raise HtmlError(f"Unclosed start tag at byte offset {offset}")
        tag = text[begin + 1:i].lower()
        if tag not in TAGS:
            raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {offset}')
        argument = ""
        while True:
            i = self.skip_spaces(i)
            if i >= len(text):
                raise HtmlError(f"Unclosed start tag at byte offset {offset}")
            if text[i] == ">":
                break
            name, value, i = self.attribute(tag, i, offset)
            argument = _tag_argument(tag, name, value, argument)
        if tag == "span" and argument != "spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        self.stack.append((tag, argument, self.u16, len("".join(self.out))))
        return i + 1

    def attribute(self, tag: str, i: int, offset: int) -> tuple[str, str | None, int]:
        """Parse one attribute at i; return (name, value or None, next index)."""
        text, start = self.text, i
        while i < len(text) and text[i] not in SPACES and text[i] not in "=>":
            i += 1
        name = text[start:i]
        if not name:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {offset}')
        i = self.skip_spaces(i)
        if text[i:i + 1] != "=":
            if tag == "blockquote" and name == "expandable":
                return name, None, i
            raise HtmlError('Expected equal sign in declaration of an attribute of the tag '
                            f'"{tag}" at byte offset {offset}')
        i = self.skip_spaces(i + 1)
        if i >= len(text):
            raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {offset}')
        if text[i] in "'\"":
            return (name, *self.quoted_value(i))
        start = i
        while i < len(text) and (text[i].isascii() and text[i].isalnum() or text[i] in ".-"):
            i += 1
        if i < len(text) and text[i] not in SPACES and text[i] != ">":
            raise HtmlError(f"Unexpected end of name token at byte offset {self.byte_offset(start)}")
        return name, text[start:i].lower(), i

    def quoted_value(self, i: int) -> tuple[str, int]:
        """Parse a quoted attribute value at i, decoding entities; return (value, next index)."""
        text, quote, value = self.text, self.text[i], []
        i += 1
        while i < len(text) and text[i] != quote:
            decoded = decode_entity(text, i) if text[i] == "&" else None
            if decoded:
                value.append(decoded[0])
                i = decoded[1]
            else:
                value.append(text[i])
                i += 1
        return "".join(value), i + 1

    def end_tag(self, begin: int) -> int:
        """Parse '</tag>' starting at begin, closing the innermost entity; return the next index."""
        text, offset = self.text, self.byte_offset(begin)
        if not self.stack:
            raise HtmlError(f"Unexpected end tag at byte offset {offset}")
        i = begin + 2
        while i < len(text) and text[i] not in SPACES and text[i] != ">":
            i += 1
        name = text[begin + 2:i]
        i = self.skip_spaces(i)
        if i >= len(text) or text[i] != ">":
            raise HtmlError(f"Unclosed end tag at byte offset {offset}")
        tag, argument, start, start_len = self.stack.pop()
        if name and name != tag:
            raise HtmlError(f'Unmatched end tag at byte offset {offset}, '
                            f'expected "</{tag}>", found "</{name}>"')
        if self.u16 > start:
            inner = "".join(self.out)[start_len:]
            self.add_entity(tag, argument, start, self.u16 - start, inner)
        return i + 1

    def add_entity(self, tag: str, argument: str, offset: int, length: int, inner: str) -> None:
        """Record the entity that a closed tag makes (tdlib merges <pre><code class=...>)."""
        entity: dict = {"offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same = last is not None and (last["offset"], last["length"]) == (offset, length)
        if tag in SIMPLE_TYPES:
            entity["type"] = SIMPLE_TYPES[tag]
        elif tag == "a":
            entity.update(type="text_link", url=argument or inner)
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if argument else "blockquote"
        elif tag == "tg-emoji":
            if not argument:
                return
            entity.update(type="custom_emoji", custom_emoji_id=argument)
        elif tag == "pre" and same and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
            return
        elif tag == "code" and same and last["type"] == "pre" and argument:
            last["language"] = argument
            return
        else:
            entity["type"] = tag
            if tag == "code" and argument:
                entity["language"] = argument
        self.entities.append(entity)


def _tag_argument(tag: str, name: str, value: str | None, current: str) -> str:
    """The argument that one attribute gives a tag, as tdlib reads it."""
    if tag == "a" and name == "href":
        return value or ""
    if tag == "code" and name == "class" and (value or "").startswith("language-"):
        return value[len("language-"):]
    if tag == "span" and name == "class" and (value or "").startswith("tg-"):
        return value[len("tg-"):]
    if tag == "tg-emoji" and name == "emoji-id":
        return value or ""
    if tag == "blockquote" and name == "expandable":
        return "1"
    return current


def parse_html(text: str, strict_ampersand: bool = True) -> tuple[str, list[dict]]:
    """Parse Telegram HTML into (plain text, entities); raise HtmlError with tdlib's wording."""
    plain, entities = _HtmlParser(text, strict_ampersand).run()
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return plain, entities


def trim(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Strip surrounding whitespace as Telegram does, shifting and clipping entities."""
    stripped = text.strip(SPACES)
    if not stripped:
        return "", []
    lead = utf16_len(text[:len(text) - len(text.lstrip(SPACES))])
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def user_entities(text: str) -> list[dict]:
    """The bot_command and mention entities Telegram adds to a user's message."""
    found = [("bot_command", m) for m in _COMMAND.finditer(text)]
    found += [("mention", m) for m in _MENTION.finditer(text)]
    entities = [{"type": kind, "offset": utf16_len(text[:m.start()]),
                 "length": utf16_len(m.group())} for kind, m in found]
    return sorted(entities, key=lambda e: e["offset"])


# ---- request parameters and reply markup ----------------------------------------------------
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "reply_to_message_id",
              "message_thread_id", "cache_time"}
BOOL_FIELDS = {"disable_notification", "protect_content", "show_alert", "drop_pending_updates",
               "allow_sending_without_reply", "disable_web_page_preview"}
JSON_FIELDS = {"reply_markup", "entities", "allowed_updates", "commands", "scope",
               "link_preview_options", "reply_parameters"}
BUTTON_KINDS = {"url", "callback_data", "web_app", "login_url", "switch_inline_query", "pay",
                "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                "callback_game", "copy_text"}
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                "upload_voice", "upload_document", "choose_sticker", "find_location",
                "record_video_note", "upload_video_note"}
NOT_DEFAULT_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
NOT_MODIFIED = ("message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message")
OLD_QUERY = "query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """A Telegram error answer: HTTP code, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def bad(description: str) -> ApiError:
    """A 400 Bad Request with Telegram's prefix."""
    return ApiError(400, f"Bad Request: {description}")


def coerce_params(params: dict) -> dict:
    """Type form-encoded values as Telegram does; JSON-in-a-string fields are decoded."""
    out = dict(params)
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        if key in INT_FIELDS and re.fullmatch(r"-?\d+", value.strip()):
            out[key] = int(value)
        elif key in BOOL_FIELDS:
            out[key] = value.strip().lower() in ("true", "1")
        elif key in JSON_FIELDS:
            try:
                out[key] = json.loads(value)
            except ValueError:
                raise bad(f"can't parse {key} JSON object") from None
    return out


def parse_body(content_type: str, body: bytes) -> dict:
    """Parameters from a JSON, form-encoded or multipart body."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            raise bad("can't parse JSON object") from None
        if not isinstance(data, dict):
            raise bad("JSON object expected")
        return data
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        parts = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            parts[name] = payload if part.get_filename() else payload.decode("utf-8", "replace")
        return parts
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def check_markup(markup) -> dict | None:
    """Validate reply_markup as Telegram does; return it or raise ApiError."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad('can\'t parse inline keyboard button: Field "text" must be of type String')
        if not BUTTON_KINDS & button.keys():
            raise bad("can't parse inline keyboard button: "
                      "Text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= 64):
            raise bad("BUTTON_DATA_INVALID")
    return markup


def button_data(message: dict) -> list[str]:
    """The callback_data of every inline button on a message."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [b["callback_data"] for b in itertools.chain.from_iterable(rows) if "callback_data" in b]


def format_text(params: dict, strict_ampersand: bool = True) -> tuple[str, list[dict]]:
    """The message text and entities after parse_mode, with Telegram's checks and wording."""
    text, entities = params.get("text"), params.get("entities")
    if not isinstance(text, str):
        raise bad("message text is empty")
    mode = (params.get("parse_mode") or "").lower()
    if mode not in ("", "html", "markdown", "markdownv2"):
        raise bad("unsupported parse_mode")
    if mode == "html" and not entities:
        try:
            text, entities = parse_html(text, strict_ampersand)
        except HtmlError as err:
            raise bad(f"can't parse entities: {err}") from None
    text, entities = trim(text, entities or [])
    if not text:
        raise bad("message text is empty")
    if utf16_len(text) > 4096:
        raise bad("message is too long")
    return text, entities
