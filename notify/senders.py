"""Destinations an alert can be sent to. Each translates its library's errors once, here.

A sender's `key` names the destination in the delivery log (`telegram:<chat>`, `slack:<name>`,
`console`), so it must stay stable across restarts. Telegram's sender is `notify.telegram`.
"""

from typing import Protocol, TextIO, runtime_checkable

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from detect.model import Alert
from notify.errors import MaybeSent, PermanentFailure, RetryLater
from notify.render import RenderOptions, render_slack, render_story_text, render_text


class Sender(Protocol):
    key: str

    async def send(self, alert: Alert) -> str | None:
        """Deliver `alert` (returning the platform's message id, if any) or raise `SendError`."""


class ConsoleSender:
    """Prints alerts: a readable block, or one Alert JSON object per line (`jsonl`).

    A readable console takes part in stories as Telegram does: a later alert of a story
    already printed is printed with the story it joins ("same story as …, also reported by")."""

    key = "console"

    def __init__(
        self, stream: TextIO, *, jsonl: bool = False, options: RenderOptions | None = None
    ) -> None:
        self._stream = stream
        self._jsonl = jsonl
        self._options = options

    async def send(self, alert: Alert) -> str | None:
        if self._jsonl:
            self._write(alert.model_dump_json())
            return None  # no story: each line is one alert
        self._write(render_text(alert, self._options) + "\n")
        return _PRINTED

    async def edit(self, alerts: list[Alert], message_id: str) -> bool:
        self._write(render_story_text(alerts, self._options) + "\n")
        return True

    async def send_story(self, alerts: list[Alert]) -> str | None:
        self._write(render_story_text(alerts, self._options) + "\n")
        return _PRINTED

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text + "\n")
            self._stream.flush()
        except OSError as exc:  # closed pipe or full disk: retrying cannot help
            raise PermanentFailure(self.key, f"cannot write: {exc.strerror or exc}") from exc


_PRINTED = "printed"  # the console's "message id": a story was told here


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
        self._timeout_s = timeout_s
        self.key = f"slack:{name}"

    async def send(self, alert: Alert) -> str | None:
        text, blocks = render_slack(alert, self._options)
        try:
            response = await self._client.send(text=text, blocks=blocks)
        except TimeoutError as exc:  # posted, perhaps, but no answer: the post may have landed
            reason = f"no answer within {self._timeout_s}s"
            raise MaybeSent(self.key, reason, float(self._timeout_s)) from exc
        except aiohttp.ClientError as exc:
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
