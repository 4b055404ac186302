"""The Telegram bot people talk to: subscribe chats to watchlists, mute them, ask their status.

aiogram 3 routers over long polling (`poll`), or a webhook (`serve_webhook`). Works in private
chats, groups and channels (commands posted in a channel arrive as `channel_post`). Who may
change a chat's subscriptions is the `Policy`: anyone (`open`), users or chats on an
`allowlist`, or the chat's own administrators (`admins`: in a private chat that is its user; in
a channel, whoever can post). Refusals say why.

Replies are plain text (no parse mode), so nothing a user typed can inject markup.
"""

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from aiogram import Bot, F, Router
from aiogram import Dispatcher as BotDispatcher
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    User,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from notify.digest import DIGESTS
from notify.subscriptions import ALL, Subscriptions

log = logging.getLogger("mediawatch.notify.bot")

PolicyMode = Literal["open", "allowlist", "admins"]
_DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400}
#: Characters of what a user typed that a reply quotes back (a reply over Telegram's 4,096
#: characters would be refused, and the user would get no answer at all).
MAX_ECHO = 64

HELP = """I send alerts when news matches a watchlist.

/watchlists – what you can subscribe to
/subscribe <id> [country…] – get a watchlist's alerts here (about these countries
  only, e.g. /subscribe conflict AZ AM)
/unsubscribe <id> – stop them
/trend <event> [country] – a chart of the stories of the last days
/list – this chat's subscriptions
/mute <30m|2h|1d|off> – deliver silently for a while
/digest <off|15m|1h|daily> – bundle alerts (critical ones still come at once)
/status – what this chat gets, and what is waiting"""


#: A country or group code as a user types it (AZ, HAMAS); the gazetteer says if it exists.
_CODE_RE = re.compile(r"[A-Za-z][A-Za-z_]{1,31}")
#: Events `/trend` knows, from the watchlists' rules (set by the service).
Trend = Callable[[str, str | None], "tuple[bytes, str] | None"]


@dataclass(frozen=True)
class WatchlistInfo:
    """What a subscriber needs to know about a watchlist."""

    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class Policy:
    mode: PolicyMode = "open"
    allowlist: frozenset[int] = field(default_factory=frozenset)


class WatchlistAction(CallbackData, prefix="wl"):
    action: Literal["sub", "unsub"]
    watchlist: str


def parse_mute(text: str) -> float | None:
    """`30m`, `2h`, `1d` → seconds; `off` → 0; anything else → None.

    Digits are decimal ones of any script (`٣٠m`), never `²` or `①`: str.isdigit() accepts
    those, int() refuses them, and the handler would fail without a reply.
    """
    text = text.strip().lower()
    if text in ("off", "0"):
        return 0.0
    amount = text[:-1]
    if text[-1:] in _DURATION_UNITS and amount.isdecimal() and len(amount) <= 6:
        seconds = int(amount) * _DURATION_UNITS[text[-1]]
        return float(seconds) if 0 < seconds <= 30 * 86400 else None
    return None


def _echo(typed: str) -> str:
    """What a user typed, quoted in a reply, cut to `MAX_ECHO` characters."""
    return repr(typed if len(typed) <= MAX_ECHO else typed[:MAX_ECHO] + "…")


class BotHandlers:
    """The command and button handlers, over the subscriptions store and a watchlist catalogue."""

    def __init__(
        self,
        subscriptions: Subscriptions,
        watchlists: dict[str, WatchlistInfo],
        policy: Policy,
        *,
        owed: Callable[[str], int] = lambda key: 0,
        clock: Callable[[], float] = time.time,
        country_name: Callable[[str], str | None] = lambda code: None,
        trend: Trend | None = None,
    ) -> None:
        self._subs = subscriptions
        self._watchlists = watchlists
        self._policy = policy
        self._owed = owed
        self._clock = clock
        self._country_name = country_name  # the gazetteer's name of a code, None if unknown
        self._trend = trend  # (event, country) → chart PNG and caption, None if no stories

    def router(self) -> Router:
        router = Router(name="mediawatch")
        for observe in (router.message, router.channel_post):
            observe(CommandStart())(self.start)
            observe(Command("help"))(self.help)
            observe(Command("watchlists"))(self.watchlists)
            observe(Command("subscribe"))(self.subscribe)
            observe(Command("unsubscribe"))(self.unsubscribe)
            observe(Command("list"))(self.list)
            observe(Command("mute"))(self.mute)
            observe(Command("digest"))(self.digest)
            observe(Command("status"))(self.status)
            observe(Command("trend"))(self.trend)
        router.callback_query(WatchlistAction.filter(F.action.in_({"sub", "unsub"})))(self.tapped)
        return router

    # -- commands ---------------------------------------------------------------------------

    async def start(self, message: Message) -> None:
        self._subs.activate(message.chat.id)
        await message.answer("Hello! " + HELP)

    async def help(self, message: Message) -> None:
        await message.answer(HELP)

    async def watchlists(self, message: Message) -> None:
        if not self._watchlists:
            await message.answer("There are no watchlists yet.")
            return
        mine = set(self._subs.watchlists_of(message.chat.id))
        lines = ["Watchlists:"]
        for w in self._watchlists.values():
            mark = " (subscribed)" if w.id in mine or ALL in mine else ""
            lines.append(
                f"• {w.id}{mark} – {w.title}" + (f": {w.description}" if w.description else "")
            )
        await message.answer("\n".join(lines), reply_markup=self._keyboard(mine))

    async def subscribe(self, message: Message, command: CommandObject) -> None:
        await self._change(message, message.chat, message.from_user, command.args, "sub")

    async def unsubscribe(self, message: Message, command: CommandObject) -> None:
        await self._change(message, message.chat, message.from_user, command.args, "unsub")

    async def list(self, message: Message) -> None:
        mine = self._subs.countries_of(message.chat.id)
        if not mine:
            await message.answer("This chat has no subscriptions. Try /watchlists.")
        elif ALL in mine:
            await message.answer("This chat gets alerts from every watchlist.")
        else:
            await message.answer(
                "This chat gets alerts from: "
                + ", ".join(f"{w} ({', '.join(c)})" if c else w for w, c in mine.items())
            )

    async def trend(self, message: Message, command: CommandObject) -> None:
        """`/trend <event> [country]`: the chart of the last days, as a photo."""
        args = (command.args or "").split()
        if not args or len(args) > 2 or self._trend is None:
            await message.answer(
                "Usage: /trend <event> [country], e.g. /trend shelling_or_strike UA"
            )
            return
        event, country = args[0].lower(), args[1].upper() if len(args) == 2 else None
        if country is not None and self._country_name(country) is None:
            await message.answer(
                f"I know no country or group {_echo(country)} (ISO codes: AZ, UA…)."
            )
            return
        chart = self._trend(event, country)
        if chart is None:
            await message.answer(f"No stories of {_echo(event)} in the last days.")
            return
        png, caption = chart
        await message.answer_photo(BufferedInputFile(png, filename="trend.png"), caption=caption)

    async def mute(self, message: Message, command: CommandObject) -> None:
        if await self._refuse(message, message.chat, message.from_user):
            return
        seconds = parse_mute(command.args or "")
        if seconds is None:
            await message.answer("Usage: /mute 30m, /mute 2h, /mute 1d (up to 30d), or /mute off")
            return
        if seconds == 0:
            self._subs.mute(message.chat.id, None)
            await message.answer("Unmuted: alerts notify again.")
            return
        until = self._clock() + seconds
        self._subs.mute(message.chat.id, until)
        await message.answer(
            f"Muted until {_utc(until)}: alerts still arrive, silently. Critical ones still ring."
        )

    async def digest(self, message: Message, command: CommandObject) -> None:
        if await self._refuse(message, message.chat, message.from_user):
            return
        choice = (command.args or "").strip().lower()
        if choice not in DIGESTS:
            await message.answer("Usage: /digest off, /digest 15m, /digest 1h or /digest daily")
            return
        self._subs.set_digest(message.chat.id, choice)
        await message.answer(
            f"Digest set to {choice}: alerts arrive bundled"
            + (" every morning at 08:00." if choice == "daily" else f" every {choice}.")
            + " Critical ones still come at once."
            if choice != "off"
            else "Digest off: alerts arrive one by one."
        )

    async def status(self, message: Message) -> None:
        chat_id = message.chat.id
        mine = self._subs.watchlists_of(chat_id)
        muted = self._subs.muted_until(chat_id, self._clock())
        lines = [
            "Active." if self._subs.active(chat_id) else "Not active (send /start to resume).",
            "Subscriptions: "
            + ("every watchlist" if ALL in mine else ", ".join(mine) if mine else "none"),
            f"Muted until {_utc(muted)}." if muted else "Not muted.",
            f"Digest: {self._subs.digest(chat_id)}.",
            f"Alerts waiting to be sent here: {self._owed(f'telegram:{chat_id}')}.",
        ]
        await message.answer("\n".join(lines))

    async def tapped(self, query: CallbackQuery, callback_data: WatchlistAction) -> None:
        message = query.message
        if not isinstance(message, Message):
            await query.answer("That message is too old; send /watchlists again.")
            return
        reply = await self._apply(
            message.chat, query.from_user, callback_data.watchlist, callback_data.action, message
        )
        await query.answer(reply)
        if reply is not None and not reply.startswith("Sorry"):
            mine = set(self._subs.watchlists_of(message.chat.id))
            with contextlib.suppress(Exception):  # cosmetic: the keyboard follows the state
                await message.edit_reply_markup(reply_markup=self._keyboard(mine))

    # -- the rules --------------------------------------------------------------------------

    async def _change(
        self,
        message: Message,
        chat: Chat,
        user: User | None,
        args: str | None,
        action: Literal["sub", "unsub"],
    ) -> None:
        words = (args or "").split()
        name = words[0] if words else ""
        if not name:
            verb = "subscribe" if action == "sub" else "unsubscribe"
            await message.answer(
                f"Usage: /{verb} <watchlist id>. Pick one:",
                reply_markup=self._keyboard(set(self._subs.watchlists_of(chat.id))),
            )
            return
        reply = await self._apply(chat, user, name, action, message, tuple(words[1:]))
        if reply is not None:
            await message.answer(reply)

    async def _apply(
        self,
        chat: Chat,
        user: User | None,
        name: str,
        action: Literal["sub", "unsub"],
        message: Message,
        codes: tuple[str, ...] = (),
    ) -> str | None:
        refusal = await self._refusal(message.bot, chat, user, message)
        if refusal:
            return refusal
        if name not in self._watchlists:
            known = ", ".join(self._watchlists) or "none"
            return f"There is no watchlist called {_echo(name)}. Known: {known}."
        countries = {code.upper() for code in codes}
        unknown = [
            c
            for c in sorted(countries)
            if not _CODE_RE.fullmatch(c) or self._country_name(c) is None
        ]
        if unknown:
            return f"I know no country or group {_echo(unknown[0])} (ISO codes such as AZ, UA)."
        if action == "sub":
            about = (
                " about " + ", ".join(f"{self._country_name(c)} ({c})" for c in sorted(countries))
                if countries
                else ""
            )
            if self._subs.subscribe(chat.id, name, frozenset(countries)):
                return f"Subscribed to {name}{about}: {self._watchlists[name].title}."
            return f"This chat is already subscribed to {name}{about}."
        if self._subs.unsubscribe(chat.id, name):
            return f"Unsubscribed from {name}."
        return f"This chat was not subscribed to {name}."

    async def _refuse(self, message: Message, chat: Chat, user: User | None) -> bool:
        refusal = await self._refusal(message.bot, chat, user, message)
        if refusal:
            await message.answer(refusal)
        return refusal is not None

    async def _refusal(
        self, bot: Bot | None, chat: Chat, user: User | None, message: Message
    ) -> str | None:
        """Why this user may not change this chat's settings, or None if they may."""
        policy = self._policy
        if policy.mode == "open":
            return None
        if policy.mode == "allowlist":
            if chat.id in policy.allowlist or (user is not None and user.id in policy.allowlist):
                return None
            return (
                "Sorry, subscriptions are limited to an allowlist, and neither you nor this chat "
                f"(id {chat.id}) is on it. Ask the bot's operator to add it."
            )
        if chat.type in ("private", "channel"):  # your own chat; only admins post in channels
            return None
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return None  # an anonymous administrator, writing as the group
        if user is None or bot is None:
            return "Sorry, I cannot tell who you are, and only administrators may do this here."
        member = await bot.get_chat_member(chat.id, user.id)
        if member.status in ("creator", "administrator"):
            return None
        return "Sorry, only this group's administrators may change its alerts."

    def _keyboard(self, mine: set[str]) -> InlineKeyboardMarkup:
        builder = InlineKeyboardBuilder()
        for w in self._watchlists.values():
            if w.id in mine:
                builder.button(
                    text=f"Unsubscribe {w.id}",
                    callback_data=WatchlistAction(action="unsub", watchlist=w.id),
                )
            else:
                builder.button(
                    text=f"Subscribe {w.id}",
                    callback_data=WatchlistAction(action="sub", watchlist=w.id),
                )
        builder.adjust(1)
        return builder.as_markup()


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def poll(bot: Bot, router: Router, stop: asyncio.Event, *, polling_timeout: int = 10) -> None:
    """Answer updates by long polling until `stop` is set."""
    dispatcher = BotDispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot,
            polling_timeout=polling_timeout,
            handle_signals=False,
            close_bot_session=False,  # the sender loop shares this bot's session
        )
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if polling.done():
            await polling  # polling gave up on its own: say why
    finally:
        stopping.cancel()
        if not polling.done():
            with contextlib.suppress(RuntimeError):  # not started yet
                await dispatcher.stop_polling()
            try:
                async with asyncio.timeout(polling_timeout + 5):
                    await polling
            except TimeoutError:
                polling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await polling


class _SharedBotHandler(SimpleRequestHandler):
    async def close(self) -> None:
        """The bot's session is shared with the sender loop, which closes it."""


async def serve_webhook(
    bot: Bot,
    router: Router,
    stop: asyncio.Event,
    *,
    url: str,
    secret: str,
    host: str = "0.0.0.0",
    port: int = 8443,
    path: str = "/telegram",
) -> None:
    """Answer updates Telegram POSTs to `url` (served here on host:port/path) until `stop`.

    Registers the webhook with `setWebhook` and a secret token; requests without it get 401.
    """
    dispatcher = BotDispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    _SharedBotHandler(
        dispatcher=dispatcher, bot=bot, secret_token=secret, handle_in_background=False
    ).register(app, path=path)
    setup_application(app, dispatcher, bot=bot)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await bot.set_webhook(url, secret_token=secret)
        log.info("answering Telegram by webhook", extra={"url": url, "port": port})
        await stop.wait()
    finally:
        await runner.cleanup()
