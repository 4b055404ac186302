"""Destinations an alert can be sent to. Each translates its library's errors once, here.

A sender's `key` names the destination in the delivery log (`telegram:<chat>`, `slack:<name>`,
`console`), so it must stay stable across restarts.
"""

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol, TextIO, runtime_checkable

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import LinkPreviewOptions
from slack_sdk.webhook.async_client import AsyncWebhookClient

from detect.model import Alert
from notify.errors import ChatGone, ChatMoved, PermanentFailure, RetryLater
from notify.render import (
    RenderOptions,
    render_digest_html,
    render_slack,
    render_story_html,
    render_text,
)


class Sender(Protocol):
    key: str

    async def send(self, alert: Alert) -> str | None:
        """Deliver `alert` (returning the platform's message id, if any) or raise `SendError`."""


class ConsoleSender:
    """Prints alerts: a readable block, or one Alert JSON object per line (`jsonl`)."""

    key = "console"

    def __init__(
        self, stream: TextIO, *, jsonl: bool = False, options: RenderOptions | None = None
    ) -> None:
        self._stream = stream
        self._jsonl = jsonl
        self._options = options

    async def send(self, alert: Alert) -> str | None:
        text = alert.model_dump_json() if self._jsonl else render_text(alert, self._options) + "\n"
        try:
            self._stream.write(text + "\n")
            self._stream.flush()
        except OSError as exc:  # closed pipe or full disk: retrying cannot help
            raise PermanentFailure(self.key, f"cannot write: {exc.strerror or exc}") from exc
        return None


@runtime_checkable
class StoryEditor(Protocol):
    """A sender that can rewrite a message it sent (one message per story per chat)."""

    async def edit(self, alerts: list[Alert], message_id: str) -> bool:
        """Rewrite message `message_id` to tell the story of `alerts`.

        False when that message can no longer be edited (deleted, too old): send a new one.
        """

    async def send_story(self, alerts: list[Alert]) -> str | None:
        """A new message telling the story of `alerts`; its message id."""


@runtime_checkable
class DigestSender(Protocol):
    """A sender that can fold several alerts into one message."""

    async def send_digest(self, alerts: list[Alert]) -> str | None:
        """One message listing `alerts`; its message id."""


class TelegramSender:
    """Sends to one chat through a real aiogram `Bot` (whose session points at `api_base`)."""

    def __init__(
        self,
        bot: Bot,
        chat_id: int | str,
        *,
        muted: Callable[[], bool] = lambda: False,
        options: RenderOptions | None = None,
    ) -> None:
        self._bot = bot
        self._options = options
        self._chat_id = chat_id
        self._muted = muted  # the chat asked for silence (/mute): no sound unless critical
        self.key = f"telegram:{chat_id}"

    async def send(self, alert: Alert) -> str | None:
        return await self.send_story([alert])

    async def send_story(self, alerts: list[Alert]) -> str | None:
        with self._translated():
            message = await self._bot.send_message(
                self._chat_id,
                render_story_html(alerts, self._options),
                parse_mode="HTML",
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                disable_notification=self._muted()
                and not any(a.severity == "critical" for a in alerts),
            )
        return str(message.message_id)

    async def send_digest(self, alerts: list[Alert]) -> str | None:
        with self._translated():
            message = await self._bot.send_message(
                self._chat_id,
                render_digest_html(alerts, self._options),
                parse_mode="HTML",
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                disable_notification=self._muted(),
            )
        return str(message.message_id)

    async def edit(self, alerts: list[Alert], message_id: str) -> bool:
        try:
            with self._translated():
                await self._bot.edit_message_text(
                    render_story_html(alerts, self._options),
                    chat_id=self._chat_id,
                    message_id=int(message_id),
                    parse_mode="HTML",
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except PermanentFailure as exc:
            if isinstance(exc, ChatGone | ChatMoved):
                raise
            if "not modified" in exc.reason:  # already says this: an edit replayed after a crash
                return True
            return False
        return True

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """aiogram's errors as ours, in one place."""
        try:
            yield
        except TelegramRetryAfter as exc:
            raise RetryLater(self.key, "flood control", float(exc.retry_after)) from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise RetryLater(self.key, f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramForbiddenError as exc:  # blocked by the user, kicked from the group
            raise ChatGone(self.key, f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramMigrateToChat as exc:  # the group is now a supergroup, with a new id
            moved = f"telegram:{exc.migrate_to_chat_id}"
            raise ChatMoved(self.key, "migrated to a supergroup", moved) from exc
        except TelegramAPIError as exc:  # bad request, not found, unauthorized
            raise PermanentFailure(self.key, f"{type(exc).__name__}: {exc.message}") from exc


class SlackSender:
    """Posts Block Kit messages to one incoming webhook."""

    def __init__(
        self,
        name: str,
        webhook_url: str,
        *,
        timeout_s: int = 15,
        options: RenderOptions | None = None,
    ) -> None:
        self._options = options
        self._client = AsyncWebhookClient(webhook_url, timeout=timeout_s)
        self.key = f"slack:{name}"

    async def send(self, alert: Alert) -> str | None:
        text, blocks = render_slack(alert, self._options)
        try:
            response = await self._client.send(text=text, blocks=blocks)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(self.key, f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 200:
            return None
        if status == 429 or status >= 500:
            retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
            delay = (
                float(retry_after[0] if isinstance(retry_after, list) else retry_after)
                if retry_after
                else None
            )
            raise RetryLater(self.key, f"HTTP {status}", delay)
        raise PermanentFailure(self.key, f"HTTP {status}: {response.body[:200]}")
