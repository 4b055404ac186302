"""A fake Telegram Bot API server: real HTTP, the real response format, scripted failures.

A real aiogram `Bot` talks to it through `TelegramAPIServer.from_base(server.base_url)`, so
aiogram's own response checking (429 → TelegramRetryAfter, 403 → TelegramForbiddenError …) runs.
"""

import asyncio
import contextlib
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from services.http import start_app


@dataclass
class Fault:
    """One scripted answer instead of success: HTTP status and optional retry_after."""

    status: int
    retry_after: int | None = None
    description: str = "injected"


@dataclass
class Chaos:
    """Faults injected at random (seeded) into sendMessage: 429, 5xx, and hangs (timeouts).

    A hang sleeps `hang_s` (longer than the client's timeout) and then answers 504 without
    recording the message: the client gave up on a message that never reached "Telegram".
    """

    seed: int
    p_429: float = 0.0
    p_5xx: float = 0.0
    p_timeout: float = 0.0
    retry_after: int = 1
    hang_s: float = 1.0
    first: int | None = None  # only the first N calls may fail (None: all)
    _rng: random.Random = field(init=False)
    _calls: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self) -> str | None:
        self._calls += 1
        x = self._rng.random()
        if self.first is not None and self._calls > self.first:
            return None
        for kind, p in (("429", self.p_429), ("5xx", self.p_5xx), ("timeout", self.p_timeout)):
            if x < p:
                return kind
            x -= p
        return None


@dataclass
class Attempt:
    """Every sendMessage call, successful or not: chat, HTTP status, when, retry_after."""

    chat_id: str
    status: int
    at: float
    retry_after: int | None = None
    method: str = "sendMessage"


@dataclass
class SentMessage:
    """A message as the chat sees it now: `text` is the latest edit, `edits` how many."""

    chat_id: str
    text: str
    parse_mode: str | None
    at: float
    message_id: int = 0
    edits: int = 0
    silent: bool = False  # sent with disable_notification
    reply_markup: str | None = None  # JSON, as the client sent it
    photo: bytes | None = None  # sendPhoto: the image as uploaded; `text` is its caption


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-token"
    messages: list[SentMessage] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)  # consumed one per sendMessage
    attempts: list[Attempt] = field(default_factory=list)
    edits: list[tuple[str, int, str]] = field(default_factory=list)  # (chat, message id, text)
    updates: list[dict[str, Any]] = field(default_factory=list)  # served by getUpdates
    admins: dict[str, set[int]] = field(default_factory=dict)  # chat id → admin user ids
    callback_answers: list[str] = field(default_factory=list)
    webhook: tuple[str, str] | None = None  # (url, secret token) once setWebhook was called
    webhook_statuses: list[int] = field(default_factory=list)
    _posting: set["asyncio.Task[None]"] = field(default_factory=set)
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _update_ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    chaos: Chaos | None = None
    forbidden: set[str] = field(default_factory=set)  # chats that blocked the bot: always 403
    migrated: dict[str, int] = field(default_factory=dict)  # group id → its supergroup's id
    hold_after: int | None = None  # once this many are recorded, hang further sends
    held: int = 0
    #: The next `slow_answers` sendMessage calls are delivered at once but answered only after
    #: `answer_delay_s` (a slow Telegram: the client may give up on a message that arrived).
    slow_answers: int = 0
    answer_delay_s: float = 0.0
    port: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner, self.port = await start_app(app)

    async def stop(self) -> None:
        self._release.set()
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def release(self) -> None:
        """Stop holding sends: held requests fail with 502 (they never reached 'Telegram')."""
        self.hold_after = None
        self._release.set()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        form = dict(await request.post())
        if method == "getMe":
            return _ok({"id": 1, "is_bot": True, "first_name": "mediawatch", "username": "mw_bot"})
        if method == "setWebhook":
            self.webhook = (str(form["url"]), str(form.get("secret_token", "")))
            return _ok(True)
        if method == "deleteWebhook":
            self.webhook = None
            return _ok(True)
        if method == "getUpdates":
            if self.webhook is not None:
                return _error(409, "Conflict: can't use getUpdates method while webhook is active")
            return _ok(await self._get_updates(form))
        if method == "answerCallbackQuery":
            self.callback_answers.append(str(form.get("text", "")))
            return _ok(True)
        if method == "editMessageReplyMarkup":
            return _ok(True)
        if method == "getChatMember":
            chat, user = str(form["chat_id"]), int(form["user_id"])
            status = "administrator" if user in self.admins.get(chat, set()) else "member"
            return _ok({"status": status, "user": _user(user)} | _member_extras(status))
        if method not in ("sendMessage", "editMessageText", "sendPhoto"):
            return _error(404, f"Not Found: method {method}")
        if self.hold_after is not None and len(self.messages) >= self.hold_after:
            self.held += 1
            await self._release.wait()
            return _error(502, "Bad Gateway")
        chat_id = str(form.get("chat_id"))
        fault = self._fault(chat_id)
        if fault == "timeout":
            assert self.chaos is not None
            self.attempts.append(Attempt(chat_id, 504, time.time(), method=method))
            await asyncio.sleep(self.chaos.hang_s)
            return _error(504, "Gateway Timeout")
        if isinstance(fault, Fault):
            self.attempts.append(
                Attempt(chat_id, fault.status, time.time(), fault.retry_after, method)
            )
            if chat_id in self.migrated:
                return _error(400, fault.description, migrate_to=self.migrated[chat_id])
            return _error(fault.status, fault.description, fault.retry_after)
        if method == "editMessageText":
            return self._edit(chat_id, form)
        self.attempts.append(Attempt(chat_id, 200, time.time(), method=method))
        photo = form.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):  # how aiogram uploads
            photo = form.get(photo.removeprefix("attach://"))
        if method == "sendPhoto":  # multipart: the file as uploaded, its caption as the text
            if not isinstance(photo, web.FileField):
                return _error(400, "Bad Request: there is no photo in the request")
            message = SentMessage(
                chat_id,
                str(form.get("caption", "")),
                str(form["parse_mode"]) if "parse_mode" in form else None,
                time.time(),
                next(self._ids),
                silent=str(form.get("disable_notification", "")).lower() == "true",
                photo=photo.file.read(),
            )
            self.messages.append(message)
            return _ok(_message_json(message))
        message = SentMessage(
            chat_id,
            str(form["text"]),
            str(form["parse_mode"]) if "parse_mode" in form else None,
            time.time(),
            next(self._ids),
            silent=str(form.get("disable_notification", "")).lower() == "true",
            reply_markup=str(form["reply_markup"]) if "reply_markup" in form else None,
        )
        self.messages.append(message)
        if self.slow_answers > 0:
            self.slow_answers -= 1
            await asyncio.sleep(self.answer_delay_s)
        return _ok(_message_json(message))

    # -- updates: what users say to the bot ---------------------------------------------------

    def say(
        self, chat_id: int, text: str, *, user_id: int | None = None, chat_type: str = ""
    ) -> None:
        """A user (or, with no user, a channel) posts `text` in `chat_id`."""
        kind = chat_type or ("private" if chat_id > 0 else "group")
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": kind, "title": f"chat {chat_id}"},
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if kind == "channel":
            self._push({"channel_post": message})
        else:
            message["from"] = _user(user_id if user_id is not None else chat_id)
            self._push({"message": message})

    def tap(self, chat_id: int, user_id: int, data: str, *, chat_type: str = "") -> None:
        """A user taps an inline button carrying `data` under a bot message in `chat_id`."""
        kind = chat_type or ("private" if chat_id > 0 else "group")
        self._push(
            {
                "callback_query": {
                    "id": str(next(self._ids)),
                    "from": _user(user_id),
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                    "message": {
                        "message_id": next(self._ids),
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": kind, "title": f"chat {chat_id}"},
                        "from": {"id": 1, "is_bot": True, "first_name": "mediawatch"},
                        "text": "Watchlists:",
                    },
                }
            }
        )

    def replies(self, chat_id: int) -> list[str]:
        return [m.text for m in self.messages if m.chat_id == str(chat_id)]

    def _push(self, update: dict[str, Any]) -> None:
        update["update_id"] = next(self._update_ids)
        if self.webhook is not None:  # like Telegram: POST it to the webhook instead
            task = asyncio.get_running_loop().create_task(self._post(update))
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)
            return
        self.updates.append(update)
        self._new_update.set()

    async def _post(self, update: dict[str, Any], secret: str | None = None) -> None:
        assert self.webhook is not None
        url, token = self.webhook
        headers = {"X-Telegram-Bot-Api-Secret-Token": token if secret is None else secret}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=update, headers=headers) as response:
                self.webhook_statuses.append(response.status)

    async def post_forged(self, update: dict[str, Any], secret: str) -> int:
        """POST an update to the webhook with the wrong secret; the status it got."""
        await self._post({**update, "update_id": next(self._update_ids)}, secret)
        return self.webhook_statuses[-1]

    async def _get_updates(self, form: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(form.get("offset", 0) or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
        if not self.updates:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(float(form.get("timeout", 0) or 0)):
                    await self._new_update.wait()
        return self.updates[: int(form.get("limit", 100) or 100)]

    def _edit(self, chat_id: str, form: dict[str, Any]) -> web.Response:
        message_id = int(form["message_id"])
        found = [m for m in self.messages if m.chat_id == chat_id and m.message_id == message_id]
        if not found:
            self.attempts.append(Attempt(chat_id, 400, time.time(), method="editMessageText"))
            return _error(400, "Bad Request: message to edit not found")
        message = found[0]
        text = str(form["text"])
        if text == message.text:
            self.attempts.append(Attempt(chat_id, 400, time.time(), method="editMessageText"))
            return _error(
                400,
                "Bad Request: message is not modified: specified new message "
                "content and reply markup are exactly the same",
            )
        self.attempts.append(Attempt(chat_id, 200, time.time(), method="editMessageText"))
        message.text = text
        message.edits += 1
        self.edits.append((chat_id, message_id, text))
        return _ok(_message_json(message))

    def _fault(self, chat_id: str) -> Fault | str | None:
        if chat_id in self.migrated:
            return Fault(
                400, description="Bad Request: group chat was upgraded to a supergroup chat"
            )
        if chat_id in self.forbidden:
            return Fault(403, description="Forbidden: bot was blocked by the user")
        if self.faults:
            return self.faults.pop(0)
        kind = self.chaos.draw() if self.chaos else None
        if kind == "429":
            assert self.chaos is not None
            return Fault(429, retry_after=self.chaos.retry_after)
        if kind == "5xx":
            return Fault(502, description="Bad Gateway")
        return kind


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}


def _member_extras(status: str) -> dict[str, Any]:
    """Fields aiogram's ChatMemberAdministrator requires beside status and user."""
    if status != "administrator":
        return {}
    flags = [
        "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
        "can_manage_video_chats", "can_restrict_members", "can_promote_members",
        "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
        "can_delete_stories", "can_send_welcome_messages",
    ]  # fmt: skip
    return dict.fromkeys(flags, True)


def _message_json(message: SentMessage) -> dict[str, Any]:
    chat_id = int(message.chat_id) if message.chat_id.lstrip("-").isdigit() else -100
    kind = "private" if chat_id > 0 else "group"
    return {
        "message_id": message.message_id,
        "date": int(message.at),
        "chat": {"id": chat_id, "type": kind},
        **(
            {"caption": message.text, "photo": [_photo_size(message)]}
            if message.photo is not None
            else {"text": message.text}
        ),
    }


def _photo_size(message: SentMessage) -> dict[str, Any]:
    ident = f"photo-{message.message_id}"
    return {"file_id": ident, "file_unique_id": ident, "width": 640, "height": 320}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(
    status: int, description: str, retry_after: int | None = None, migrate_to: int | None = None
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if migrate_to is not None:
        body["parameters"] = {"migrate_to_chat_id": migrate_to}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
        body["description"] = f"Too Many Requests: retry after {retry_after}"
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
