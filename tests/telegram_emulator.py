"""A strict Telegram Bot API emulator on 127.0.0.1 for tests: it plays Telegram, the test plays the user.

In-process: ``emu = Emulator(); port = emu.start()``; point the bot at ``emu.base_url``.
Standalone: ``python tests/telegram_emulator.py --port N`` prints the port and serves until killed.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import re
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from telegram_html import (  # noqa: E402
    CHAT_ACTIONS, NOT_DEFAULT_UPDATES, NOT_MODIFIED, OLD_QUERY, ApiError, bad, button_data,
    check_markup, coerce_params, format_text, parse_body, user_entities,
)

DEFAULT_TOKEN = "123456789:AAEmulatorTokenForTests0123456789ab"


class _ClientGone(Exception):
    """The HTTP client hung up while its long poll waited; answer nothing."""


class _Handler(BaseHTTPRequestHandler):
    """Routes every HTTP request to the emulator."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        """Serve GET and POST alike, as Telegram does."""
        self.server.emulator._serve(self)  # pylint: disable=protected-access

    do_POST = do_GET

    def log_message(self, format, *args):  # noqa: A002  # pylint: disable=redefined-builtin
        """Stay quiet."""


class Emulator:
    """The Telegram Bot API server for one bot, plus a control API for the test (the user's side)."""

    def __init__(self, token: str = DEFAULT_TOKEN, username: str = "newsdesk_test_bot",
                 first_name: str = "Newsdesk", privacy_mode: bool = True,
                 strict_ampersand: bool = True):
        self.token, self.privacy_mode, self.strict_ampersand = token, privacy_mode, strict_ampersand
        self.bot_user = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": first_name,
                         "username": username, "can_join_groups": True,
                         "can_read_all_group_messages": not privacy_mode,
                         "supports_inline_queries": False, "can_connect_to_business": False,
                         "has_main_web_app": False}
        self.requests: list[tuple[str, dict]] = []
        self.rejections: list[dict] = []
        self.callback_answers: list[dict] = []
        self.commands: dict[tuple[str, str], list[dict]] = {}
        self._cond = threading.Condition(threading.RLock())
        self._updates: list[dict] = []
        self._update_ids = itertools.count(700_000_001)
        self._query_ids = itertools.count(4_000_000_001)
        self._chats: dict[int, dict] = {}
        self._messages: dict[tuple[int, int], dict] = {}
        self._message_ids: dict[int, itertools.count] = {}
        self._events: dict[int, list[dict]] = {}
        self._open_queries: set[str] = set()
        self._allowed: set[str] | None = None
        self._poll_generation = 0
        self._throttle = {"count": 0, "retry_after": 1, "methods": ()}
        self._webhook = ""
        self._stopping = False
        self._local = threading.local()
        self._server: ThreadingHTTPServer | None = None
        self._methods = {name.lower(): getattr(self, "_api_" + name) for name in (
            "getMe", "logOut", "close", "getUpdates", "setWebhook", "deleteWebhook",
            "getWebhookInfo", "setMyCommands", "getMyCommands", "deleteMyCommands", "sendMessage",
            "editMessageText", "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery",
            "sendChatAction")}

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> int:
        """Listen on 127.0.0.1 (a free port by default) in a background thread; return the port."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.emulator = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="telegram-emulator", daemon=True).start()
        return self.port

    def stop(self) -> None:
        """Wake long polls and shut the server down."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The value for PTB's base_url / the bot's --base-url."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ---- the user's side -------------------------------------------------------------------
    def send_message(self, chat_id: int, text: str, user: dict | None = None,
                     chat_type: str = "private", reply_to_message_id: int | None = None,
                     title: str = "Test group") -> dict | None:
        """A user writes in a chat; return the queued Update, or None if privacy mode hides it."""
        with self._cond:
            chat = self._user_chat(chat_id, chat_type, user, title)
            message = self._new_message(chat, user or self._default_user(chat), text,
                                        user_entities(text))
            if reply_to_message_id is not None:
                replied = self._messages.get((chat_id, reply_to_message_id))
                if replied is None:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
                message["reply_to_message"] = copy.deepcopy(replied)
            if chat["type"] != "private" and self.privacy_mode and not self._addressed(message):
                return None
            return self._enqueue({"message": message})

    def press_button(self, chat_id: int, message_id: int, callback_data: str,
                     user: dict | None = None) -> str:
        """A user presses an inline button on a bot message; return the callback query id."""
        with self._cond:
            message = self._messages.get((chat_id, message_id))
            if message is None or callback_data not in button_data(message):
                buttons = button_data(message) if message else "no such message"
                raise ValueError(f"message {message_id} in chat {chat_id} has no button "
                                 f"{callback_data!r}: {buttons}")
            query_id = str(next(self._query_ids))
            self._open_queries.add(query_id)
            self._enqueue({"callback_query": {
                "id": query_id, "from": user or self._default_user(message["chat"]),
                "message": copy.deepcopy(message), "chat_instance": str(7_000_000 + chat_id),
                "data": callback_data}})
            return query_id

    def bot_messages(self, chat_id: int) -> list[dict]:
        """Every message the bot sent or edited in a chat, in order (an edit is its own entry)."""
        with self._cond:
            return copy.deepcopy(self._events.get(chat_id, []))

    def wait_for_bot_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[dict]:
        """Block until bot_messages(chat_id) has at least count entries; return them."""
        self._wait(lambda: len(self._events.get(chat_id, [])) >= count, timeout,
                   f"{count} bot message(s) in chat {chat_id}")
        return self.bot_messages(chat_id)

    def wait_for_request(self, method: str, count: int = 1, timeout: float = 10.0) -> None:
        """Block until the bot has called a method count times (e.g. 'getUpdates': it polls)."""
        self._wait(lambda: sum(m == method for m, _ in self.requests) >= count, timeout,
                   f"{count} call(s) of {method}")

    def message(self, chat_id: int, message_id: int) -> dict:
        """The current state of any message, as Telegram would send it."""
        with self._cond:
            return copy.deepcopy(self._messages[(chat_id, message_id)])

    def inject_429(self, count: int, retry_after: int = 1,
                   methods: tuple[str, ...] = ("sendMessage",)) -> None:
        """Answer the next count calls of these methods with 429 Too Many Requests."""
        with self._cond:
            self._throttle = {"count": count, "retry_after": retry_after, "methods": methods}

    def pending_updates(self) -> list[dict]:
        """Updates not yet confirmed by the bot."""
        with self._cond:
            return copy.deepcopy(self._updates)

    # ---- internals -------------------------------------------------------------------------
    def _wait(self, predicate, timeout: float, what: str) -> None:
        """Wait on the condition for predicate, or raise TimeoutError naming recent rejections."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise TimeoutError(f"no {what} within {timeout}s; rejections: "
                                   f"{self.rejections[-3:]}; calls: "
                                   f"{[m for m, _ in self.requests[-10:]]}")

    def _user_chat(self, chat_id: int, chat_type: str, user: dict | None, title: str) -> dict:
        """The chat a user writes in, created on first use with Telegram's id rules."""
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError(f"unsupported chat_type {chat_type!r}")
        if chat_type == "private" and user is not None and user["id"] != chat_id:
            raise ValueError("in a private chat, chat_id is the user's id")
        if chat_type != "private" and chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = self._chats.get(chat_id)
        if chat is None:
            who = user or {"first_name": "Test", "username": f"user{chat_id}"}
            chat = ({"id": chat_id, "type": "private", "first_name": who["first_name"]}
                    if chat_type == "private" else {"id": chat_id, "type": chat_type, "title": title})
            if chat_type == "private" and who.get("username"):
                chat["username"] = who["username"]
            self._chats[chat_id] = chat
            self._message_ids[chat_id] = itertools.count(1)
        elif chat["type"] != chat_type:
            raise ValueError(f"chat {chat_id} is a {chat['type']} chat")
        return chat

    def _default_user(self, chat: dict) -> dict:
        """The private chat's owner, or a fixed member of a group."""
        if chat["type"] == "private":
            user = {"id": chat["id"], "is_bot": False, "first_name": chat["first_name"]}
            return {**user, "username": chat["username"]} if "username" in chat else user
        return {"id": 111, "is_bot": False, "first_name": "Ann", "username": "ann"}

    def _addressed(self, message: dict) -> bool:
        """Whether a group message reaches a privacy-mode bot: command, mention or reply to it."""
        replied = message.get("reply_to_message", {}).get("from", {})
        mention = f"@{self.bot_user['username']}".lower()
        return (message["text"].startswith("/") or mention in message["text"].lower()
                or replied.get("id") == self.bot_user["id"])

    def _new_message(self, chat: dict, sender: dict, text: str, entities: list[dict]) -> dict:
        """Store a new message in a chat and return it."""
        message = {"message_id": next(self._message_ids[chat["id"]]), "from": sender,
                   "chat": chat, "date": int(time.time()), "text": text}
        if entities:
            message["entities"] = entities
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    def _enqueue(self, payload: dict) -> dict:
        """Queue an update for getUpdates and wake long polls."""
        update = {"update_id": next(self._update_ids), **copy.deepcopy(payload)}
        self._updates.append(update)
        self._cond.notify_all()
        return copy.deepcopy(update)

    def _record_bot(self, kind: str, message: dict, source: str, parse_mode) -> None:
        """Log a bot send or edit for bot_messages() and wake waiters."""
        self._events.setdefault(message["chat"]["id"], []).append({
            "kind": kind, "message_id": message["message_id"], "text": message["text"],
            "source": source, "parse_mode": parse_mode, "entities": message.get("entities", []),
            "reply_markup": message.get("reply_markup"),
            "reply_to_message_id": message.get("reply_to_message", {}).get("message_id")})
        self._cond.notify_all()

    # ---- HTTP ------------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one HTTP request in Telegram's shape."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        url = urlsplit(handler.path)
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", url.path)
        method, params = match.group(2) if match else url.path, {}
        self._local.socket = handler.connection
        try:
            if not match:
                raise ApiError(404, "Not Found")
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            params.update(parse_body(handler.headers.get("Content-Type", ""), body))
            result = self._call(match.group(1), method, params)
            status, answer = 200, {"ok": True, "result": result}
        except _ClientGone:
            handler.close_connection = True
            return
        except ApiError as err:
            status, answer = err.code, {"ok": False, "error_code": err.code,
                                        "description": err.description}
            if err.parameters:
                answer["parameters"] = err.parameters
            with self._cond:
                self.rejections.append({"method": method, "params": params,
                                        "error_code": err.code, "description": err.description})
        data = json.dumps(answer).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up (e.g. a killed bot's long poll)

    def _call(self, token: str, method: str, params: dict):
        """Check the token, log the call and run the method."""
        if token != self.token:
            if re.fullmatch(r"\d+:[\w-]+", token):
                raise ApiError(401, "Unauthorized")
            raise ApiError(404, "Not Found")
        handler = self._methods.get(method.lower())
        try:
            params.update(coerce_params(params))  # in place: the logs show typed values
        finally:
            with self._cond:
                self.requests.append((handler.__name__[5:] if handler else method, params))
                self._cond.notify_all()
        if handler is None:
            raise ApiError(404, "Not Found")
        with self._cond:
            throttle = self._throttle
            if throttle["count"] > 0 and handler.__name__[5:] in throttle["methods"]:
                throttle["count"] -= 1
                after = throttle["retry_after"]
                raise ApiError(429, f"Too Many Requests: retry after {after}",
                               {"retry_after": after})
        return handler(params)

    # ---- Bot API methods -------------------------------------------------------------------
    def _api_getMe(self, params: dict) -> dict:
        """The bot's own User."""
        return dict(self.bot_user)

    def _api_logOut(self, params: dict) -> bool:
        """Accepted; nothing to do locally."""
        return True

    _api_close = _api_logOut

    def _api_getUpdates(self, params: dict) -> list[dict]:
        """Confirm updates below offset, then long-poll up to timeout seconds for the rest."""
        limit = min(max(params.get("limit", 100), 1), 100)
        deadline = time.monotonic() + max(params.get("timeout", 0), 0)
        with self._cond:
            if self._webhook:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                               "active; use deleteWebhook to delete the webhook first")
            if "allowed_updates" in params:
                self._allowed = set(params["allowed_updates"] or []) or None
            offset = params.get("offset", 0)
            if offset < 0:
                del self._updates[:offset]
            else:
                self._updates[:] = [u for u in self._updates if u["update_id"] >= offset]
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            while True:
                self._updates[:] = [u for u in self._updates if self._is_allowed(u)]
                if self._updates or self._stopping:
                    return copy.deepcopy(self._updates[:limit])
                if self._client_gone():
                    raise _ClientGone()
                if generation != self._poll_generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; make "
                                   "sure that only one bot instance is running")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(min(remaining, 0.25))

    def _client_gone(self) -> bool:
        """Whether the client of this thread's request closed its connection (a cancelled poll)."""
        sock = self._local.socket
        try:
            readable = select.select([sock], [], [], 0)[0]
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _is_allowed(self, update: dict) -> bool:
        """Whether allowed_updates (as last set by getUpdates) lets this update through."""
        kind = next(key for key in update if key != "update_id")
        return kind in self._allowed if self._allowed else kind not in NOT_DEFAULT_UPDATES

    def _api_setWebhook(self, params: dict) -> bool:
        """Store an HTTPS webhook URL (nothing is ever posted to it)."""
        if not str(params.get("url", "")).startswith("https://"):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        with self._cond:
            self._webhook = params["url"]
        return True

    def _api_deleteWebhook(self, params: dict) -> bool:
        """Remove the webhook; drop_pending_updates empties the queue."""
        with self._cond:
            self._webhook = ""
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _api_getWebhookInfo(self, params: dict) -> dict:
        """WebhookInfo with the queue length."""
        with self._cond:
            return {"url": self._webhook, "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}

    def _command_key(self, params: dict) -> tuple[str, str]:
        """Commands are stored per scope and language_code."""
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    def _api_setMyCommands(self, params: dict) -> bool:
        """Validate and store the command list."""
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse commands JSON object")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad("command description is empty")
        with self._cond:
            self.commands[self._command_key(params)] = commands
        return True

    def _api_getMyCommands(self, params: dict) -> list[dict]:
        """The stored commands for a scope and language."""
        with self._cond:
            return self.commands.get(self._command_key(params), [])

    def _api_deleteMyCommands(self, params: dict) -> bool:
        """Forget the commands of a scope and language."""
        with self._cond:
            self.commands.pop(self._command_key(params), None)
        return True

    def _chat(self, params: dict) -> dict:
        """The chat named by chat_id (a number or @username) that the bot can write to."""
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad("chat_id is empty")
        for chat in self._chats.values():
            if chat_id == chat["id"] or chat_id == f"@{chat.get('username')}":
                return chat
        raise bad("chat not found")

    def _api_sendMessage(self, params: dict) -> dict:
        """Send a text message from the bot."""
        with self._cond:
            chat = self._chat(params)
            text, entities = format_text(params, self.strict_ampersand)
            markup = check_markup(params.get("reply_markup"))
            reply = params.get("reply_parameters") or {}
            reply_id = reply.get("message_id", params.get("reply_to_message_id"))
            replied = self._messages.get((chat["id"], reply_id))
            lenient = reply.get("allow_sending_without_reply",
                                params.get("allow_sending_without_reply"))
            if reply_id is not None and replied is None and not lenient:
                raise bad("message to be replied not found")
            message = self._new_message(chat, self.bot_user, text, entities)
            if markup:
                message["reply_markup"] = markup
            if replied:
                message["reply_to_message"] = copy.deepcopy(replied)
            self._record_bot("send", message, params["text"], params.get("parse_mode"))
            return copy.deepcopy(message)

    def _editable(self, params: dict) -> dict:
        """The bot message that an edit names."""
        if params.get("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        message = self._messages.get((chat["id"], params.get("message_id")))
        if message is None:
            raise bad("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise bad("message can't be edited")
        return message

    def _apply_edit(self, message: dict, text: str, entities: list, markup, params: dict) -> dict:
        """Change a message (or refuse an identical edit) and log it."""
        old = (message["text"], message.get("entities", []), message.get("reply_markup"))
        if old == (text, entities, markup):
            raise bad(NOT_MODIFIED)
        message.update(text=text, edit_date=int(time.time()))
        for key, value in (("entities", entities), ("reply_markup", markup)):
            message.pop(key, None)
            if value:
                message[key] = value
        self._record_bot("edit", message, params.get("text", message["text"]),
                         params.get("parse_mode"))
        return copy.deepcopy(message)

    def _api_editMessageText(self, params: dict) -> dict:
        """Edit a bot message's text; an omitted reply_markup removes the keyboard."""
        with self._cond:
            message = self._editable(params)
            text, entities = format_text(params, self.strict_ampersand)
            markup = check_markup(params.get("reply_markup"))
            return self._apply_edit(message, text, entities, markup, params)

    def _api_editMessageReplyMarkup(self, params: dict) -> dict:
        """Replace or remove a bot message's inline keyboard."""
        with self._cond:
            message = self._editable(params)
            markup = check_markup(params.get("reply_markup"))
            return self._apply_edit(message, message["text"], message.get("entities", []),
                                    markup, {})

    def _api_deleteMessage(self, params: dict) -> bool:
        """Delete a message from a chat."""
        with self._cond:
            chat = self._chat(params)
            if self._messages.pop((chat["id"], params.get("message_id")), None) is None:
                raise bad("message to delete not found")
            return True

    def _api_answerCallbackQuery(self, params: dict) -> bool:
        """Answer an open callback query exactly once."""
        with self._cond:
            query_id = str(params.get("callback_query_id", ""))
            if query_id not in self._open_queries:
                raise bad(OLD_QUERY)
            if len(str(params.get("text", ""))) > 200:
                raise bad("MESSAGE_TOO_LONG")
            self._open_queries.discard(query_id)
            self.callback_answers.append(dict(params, callback_query_id=query_id))
            return True

    def _api_sendChatAction(self, params: dict) -> bool:
        """Accept a valid chat action in a known chat."""
        with self._cond:
            self._chat(params)
            if params.get("action") not in CHAT_ACTIONS:
                raise bad("wrong parameter action in request")
            return True


def main(argv: list[str] | None = None) -> None:
    """Run standalone: print the port, serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--username", default="newsdesk_test_bot")
    args = parser.parse_args(argv)
    emulator = Emulator(args.token, args.username)
    print(emulator.start(args.port), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
