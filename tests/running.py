"""`mediawatch run` as the tests' fault-injection target: a real process tree, watched from outside.

`Run` starts `python -m services.cli run` on a config, reads the JSON log lines of the whole
tree (supervisor, children, broker) from its stderr as they come, and knows from them which pid
each part has now and where each child serves its metrics; the alerts notify prints on the
console (JSON lines on stdout) are collected too. `LiveFeed` is a steady stream: a feed on the
fake feed server that gains one numbered item every `every_s` seconds, each firing exactly one
rule, so what a destination received can be counted against what the feed served.

The console is the destination where Telegram is not the point: it goes through the same
outbox and sender loop, and spares each run the seconds aiogram takes to import.
"""

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from services.feed_server import FeedServer, ServedFeed
from services.status import Samples, flatten
from tests.fakes.telegram import FakeTelegram
from tests.helpers import REPO, write_config

CHAT = 555
#: Telegram's limits compressed (1 msg/s per private chat would make these tests minutes long).
FAST_LIMITS = {"bot": "300/s", "private_chat": "100/s", "group": "100/s"}


def pipeline_config(
    tmp_path: Path,
    prefix: str,
    feeds: FeedServer,
    telegram: FakeTelegram | None = None,
    **sections: Any,
) -> Path:
    """A config for `run`: the live feed polled every 0.3 s; alerts to one Telegram chat, or
    (without `telegram`) to the console as JSON lines."""
    notify: dict[str, Any] = {
        "console": telegram is None,
        "console_format": "jsonl",
        "link_stories": False,  # the items differ by a number only: else one story, edited
        "retry": {"min_delay": "50ms", "max_delay": "1s"},
    }
    if telegram is not None:
        notify["telegram"] = {
            "token": telegram.token,
            "api_base": telegram.base_url,
            "chats": [{"id": CHAT}],
            "limits": FAST_LIMITS,
        }
    base: dict[str, Any] = {
        "feeds": [{"url": feeds.url("live.xml"), "name": "Live", "lang": "en", "interval": "0.3s"}],
        "ingest": {"allow_private_networks": True, "stories": False, "per_host_delay": "10ms"},
        "notify": notify,
        "detect": {"reload_interval": "0.2s"},
    }
    return write_config(tmp_path, prefix, **merged(base, sections))


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`base` with `over` laid on it, nested sections merged rather than replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


ITEM = (
    "<item><title>{title}</title><link>https://news.example/live/{n}</link>"
    "<description>{text}</description></item>"
)


def item_title(n: int) -> str:
    return f"Forces violated the ceasefire near checkpoint {n:04d}"


@dataclass
class LiveFeed:
    """`live.xml` on `server`: item n is added every `every_s`; the newest `window` are served."""

    server: FeedServer
    every_s: float = 0.2
    window: int = 80
    items: list[str] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    @property
    def count(self) -> int:
        return len(self.items)

    def add(self, title: str | None = None, text: str = "Witnesses described the exchange.") -> int:
        n = len(self.items)
        self.items.append(ITEM.format(title=title or item_title(n), n=n, text=text))
        body = "".join(reversed(self.items[-self.window :]))
        self.server.feeds["live.xml"] = ServedFeed(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Live</title>{body}'
            "</channel></rss>".encode()
        )
        return n

    def start(self, count: int) -> None:
        """Add `count` more items in the background, one every `every_s`."""

        async def stream() -> None:
            for _ in range(count):
                self.add()
                await asyncio.sleep(self.every_s)

        self._task = asyncio.create_task(stream())

    async def finished(self) -> None:
        if self._task is not None:
            await self._task


def on_telegram(telegram: FakeTelegram) -> list[str]:
    """The item numbers of the messages Telegram holds, in order."""
    texts = [m.text for m in telegram.messages]
    return [t.split("checkpoint ")[1][:4] for t in texts if "checkpoint " in t]


def tally(seen: list[str], expected: int) -> tuple[int, int]:
    """(lost, duplicated): items 0..expected-1 never `seen`, and items seen more than once."""
    distinct = set(seen)
    lost = sum(1 for n in range(expected) if f"{n:04d}" not in distinct)
    return lost, len(seen) - len(distinct)


@dataclass
class Run:
    """A running `mediawatch run` tree and what its logs said."""

    config: Path
    process: asyncio.subprocess.Process | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    #: Alerts printed on the console (`notify.console_format: jsonl`).
    alerts: list[dict[str, Any]] = field(default_factory=list)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, *args: str) -> "Run":
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli",
            "--log-format",
            "json",
            "run",
            "--config",
            str(self.config),
            *args,
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(self.process.stderr, self.lines)),
            asyncio.create_task(self._read(self.process.stdout, self.alerts)),
        ]
        return self

    @staticmethod
    async def _read(stream: asyncio.StreamReader, into: list[dict[str, Any]]) -> None:
        while line := await stream.readline():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    into.append(entry)

    def on_console(self) -> list[str]:
        """The item numbers of the alerts printed on the console, in order."""
        titles = [str(a.get("article", {}).get("title", "")) for a in self.alerts]
        return [t.split("checkpoint ")[1][:4] for t in titles if "checkpoint " in t]

    def errors(self) -> list[str]:
        """The error lines logged by the tree (for a failing assertion to show)."""
        return [
            f"{e.get('logger')}: {e.get('msg')} {e.get('exc', '')}"
            for e in self.lines
            if e.get("level") in ("error", "critical")
            and str(e.get("logger", "")).startswith("mediawatch")
        ]

    def said(self, text: str) -> list[dict[str, Any]]:
        return [e for e in self.lines if text in str(e.get("msg", ""))]

    async def wait_for(
        self, check: Callable[[], bool], *, timeout: float = 40.0, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert self.process is not None
            if self.process.returncode is not None:
                raise AssertionError(f"run exited ({self.process.returncode}) waiting for {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            await asyncio.sleep(0.05)

    async def ready(self, times: int = 1) -> None:
        """Until the supervisor said "pipeline ready" `times` times."""
        await self.wait_for(
            lambda: len(self.said("pipeline ready")) >= times, what="the pipeline to be ready"
        )

    def pid(self, part: str) -> int:
        """The current pid of a child (`ingest`, `detect`, `notify`) or of the `broker`."""
        if part == "broker":
            found = [e for e in self.lines if e.get("msg") == "embedded broker ready"]
        else:
            found = [e for e in self.lines if e.get("msg") == f"started {part}"]
        assert found, f"no pid logged for {part}"
        return int(found[-1]["pid"])

    def metrics_port(self, service: str) -> int:
        found = [
            e
            for e in self.lines
            if e.get("msg") == "service starting" and e.get("service") == service
        ]
        assert found, f"{service} has not said where its metrics are"
        return int(found[-1]["metrics_port"])

    async def samples(self, service: str) -> Samples:
        url = f"http://127.0.0.1:{self.metrics_port(service)}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return flatten(await response.text())

    def signal(self, part: str, sig: signal.Signals) -> None:
        os.kill(self.pid(part), sig)

    async def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C: SIGINT to the supervisor only (as a terminal sends it to run's group,
        whose only member is run: the children have sessions of their own); its exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        return await self.exit_code(timeout)

    async def exit_code(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await asyncio.gather(*self._readers)
        return code

    async def kill_tree(self) -> None:
        """kill -9 of everything at once: supervisor, children, broker (a power cut)."""
        assert self.process is not None
        pids = [self.process.pid] + [self.pid(p) for p in ("ingest", "detect", "notify", "broker")]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await self.exit_code()
