"""Telegram through a real aiogram `Bot`: the sender, its timeouts, its call timing.

Imported only when Telegram is configured: aiogram takes seconds to import.

- `TelegramSender` sends, edits and digests to one chat and translates aiogram's errors once,
  here (`_translated`), into `notify.errors`.
- `SlowAnswers` keeps the request timeout of one bot's session. A timed-out request may still
  have been delivered (`MaybeSent`); the timeout then doubles (up to four times the configured
  one) so that the retry, and the messages after it, are not cut short while Telegram is slow,
  and it comes back to the configured value once answers are quick again.
- `RequestTimer` is an aiogram session middleware that reports how long each Bot API call took.
"""

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile, LinkPreviewOptions

from detect.model import Alert
from notify.errors import ChatGone, ChatMoved, MaybeSent, PermanentFailure, RetryLater
from notify.render import (
    RenderOptions,
    render_digest_html,
    render_escalation_caption,
    render_story_html,
)
from notify.subscriptions import Subscriptions


class SlowAnswers:
    """The request timeout of one bot's calls (its session's), raised while Telegram is slow."""

    def __init__(self, session: BaseSession, *, ceiling_factor: float = 4.0) -> None:
        self._session = session
        self.base_s = session.timeout
        self.ceiling_s = self.base_s * ceiling_factor

    @property
    def current_s(self) -> float:
        return self._session.timeout

    def timed_out(self) -> float:
        """A call ran out of time: how long it had; later calls get twice as long."""
        elapsed = self._session.timeout
        self._session.timeout = min(self.ceiling_s, elapsed * 2)
        return elapsed

    def answered(self, seconds: float) -> None:
        """A call succeeded after `seconds`: keep twice that, but never below the base."""
        self._session.timeout = max(self.base_s, min(self._session.timeout, 2 * seconds))


def make_bot(token: str, api_base: str, timeout_s: float) -> Bot:
    """A bot whose session talks to `api_base` (Telegram, or a self-hosted Bot API server)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base), timeout=timeout_s)
    return Bot(token=token, session=session)


class RequestTimer(BaseRequestMiddleware):
    """Reports (Bot API method, seconds) for every call the bot makes, failed ones included."""

    def __init__(self, observe: Callable[[str, float], None]) -> None:
        self._observe = observe

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        started = time.monotonic()
        try:
            return await make_request(bot, method)
        finally:
            self._observe(method.__api_method__, time.monotonic() - started)


def _timed_out(exc: TelegramNetworkError) -> bool:
    """Whether the request was sent and its answer never came (not: could not connect)."""
    cause = exc.__cause__
    return isinstance(cause, TimeoutError | aiohttp.ServerDisconnectedError)


class TelegramSender:
    """Sends to one chat through a real aiogram `Bot` (whose session points at `api_base`)."""

    def __init__(
        self,
        bot: Bot,
        chat_id: int | str,
        *,
        muted: Callable[[], bool] = lambda: False,
        options: RenderOptions | None = None,
        timeouts: SlowAnswers | None = None,
    ) -> None:
        self._bot = bot
        self._options = options
        self._chat_id = chat_id
        self._muted = muted  # the chat asked for silence (/mute): no sound unless critical
        self._timeouts = timeouts or SlowAnswers(bot.session)
        self.key = f"telegram:{chat_id}"

    async def send(self, alert: Alert) -> str | None:
        return await self.send_story([alert])

    async def send_story(self, alerts: list[Alert]) -> str | None:
        if len(alerts) == 1 and alerts[0].escalation is not None:
            return await self._send_escalation(alerts[0])
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

    async def _send_escalation(self, alert: Alert) -> str | None:
        """The trend as a chart (sendPhoto), the figures as its caption."""
        from notify.charts import escalation_png

        return await self.send_photo(
            escalation_png(alert), render_escalation_caption(alert, self._options)
        )

    async def send_photo(self, png: bytes, caption_html: str) -> str | None:
        """A PNG with an HTML caption (an escalation notice, a /trend answer)."""
        with self._translated():
            message = await self._bot.send_photo(
                self._chat_id,
                BufferedInputFile(png, filename="trend.png"),
                caption=caption_html,
                parse_mode="HTML",
                disable_notification=self._muted(),
            )
        return str(message.message_id)

    async def edit(self, alerts: list[Alert], message_id: str) -> bool:
        if any(a.escalation is not None for a in alerts):
            return False  # a chart is never edited: its story is its own
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
        """aiogram's errors as ours, in one place; times the call for `SlowAnswers`."""
        started = time.monotonic()
        try:
            yield
        except TelegramRetryAfter as exc:
            raise RetryLater(self.key, "flood control", float(exc.retry_after)) from exc
        except TelegramEntityTooLarge as exc:  # aiogram files it under network errors: it is not
            raise PermanentFailure(self.key, f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramNetworkError as exc:
            if _timed_out(exc):
                waited = self._timeouts.timed_out()
                raise MaybeSent(self.key, f"no answer within {waited:.3g}s", waited) from exc
            raise RetryLater(self.key, f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramServerError as exc:
            raise RetryLater(self.key, f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramForbiddenError as exc:  # blocked by the user, kicked from the group
            raise ChatGone(self.key, f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramMigrateToChat as exc:  # the group is now a supergroup, with a new id
            moved = f"telegram:{exc.migrate_to_chat_id}"
            raise ChatMoved(self.key, "migrated to a supergroup", moved) from exc
        except TelegramAPIError as exc:  # bad request, not found, unauthorized
            raise PermanentFailure(self.key, f"{type(exc).__name__}: {exc.message}") from exc
        except ClientDecodeError as exc:  # an answer we cannot read: the send may have worked
            raise MaybeSent(self.key, f"unreadable answer: {exc.message}", 1.0) from exc
        self._timeouts.answered(time.monotonic() - started)


class TelegramSenders:
    """The sender for each chat of one bot, sharing its timeouts; muted as the chat asked."""

    def __init__(
        self,
        bot: Bot,
        timeouts: SlowAnswers,
        options: RenderOptions | None = None,
        subscriptions: Subscriptions | None = None,
    ) -> None:
        self._bot = bot
        self._timeouts = timeouts
        self._options = options
        self._subscriptions = subscriptions

    def __call__(self, chat: int | str) -> TelegramSender:
        subs = self._subscriptions
        return TelegramSender(
            self._bot,
            chat,
            muted=(lambda: subs.muted_until(chat) is not None) if subs else lambda: False,
            options=self._options,
            timeouts=self._timeouts,
        )
