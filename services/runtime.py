"""What every service process shares: logging, the metrics/health HTTP server, signal handling.

One shutdown path: SIGINT/SIGTERM set a stop event; the service's jobs finish what they hold,
commit, and return; anything still running after `SHUTDOWN_GRACE_S` is cancelled.

Logs go to stderr: human-readable lines on a terminal, JSON lines otherwise (or when asked), with
the same structured keys everywhere (`feed_url`, `article_id`, `watchlist`, `destination`). A
warning repeated word for word (a client retrying an unreachable broker ten times a second) is
shown once per `REPEAT_WINDOW_S`, with the count of the copies held back.
"""

import asyncio
import contextlib
import ctypes
import errno
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.errors import PortInUseError
from services.http import start_app

#: Upper bound of a graceful shutdown; k8s terminationGracePeriodSeconds is set above it (30 s).
SHUTDOWN_GRACE_S = 20.0
#: A warning repeated word for word within this many seconds is held back and counted.
REPEAT_WINDOW_S = 10.0

LogFormat = Literal["auto", "text", "json"]

_SHORT_LEVELS = {"WARNING": "WARN", "CRITICAL": "CRIT"}
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the record's `extra` keys (feed_url, article_id, …)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`12:03:04 WARN  ingest  feed poll failed …  feed_url=…`: for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = _SHORT_LEVELS.get(record.levelname, record.levelname)
        who = record.name.removeprefix("mediawatch.")
        line = f"{when} {level:<5} {who:<8} {record.getMessage()}"
        extras = "  ".join(f"{k}={v}" for k, v in _extras(record).items())
        if extras:
            line += f"  {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class RepeatFilter(logging.Filter):
    """Holds back a warning (or worse) identical to one shown less than `window_s` ago."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S) -> None:
        super().__init__()
        self._window_s = window_s
        self._shown: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = time.monotonic()
        shown_at, held = self._shown.get(key, (float("-inf"), 0))
        if now - shown_at < self._window_s:
            self._shown[key] = (shown_at, held + 1)
            return False
        if len(self._shown) > 1000:  # forget old messages
            self._shown = {k: v for k, v in self._shown.items() if now - v[0] < self._window_s}
        self._shown[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} (repeated {held} more times in {self._window_s:g}s)"
        return True


def resolve_format(fmt: LogFormat) -> Literal["text", "json"]:
    """`auto`: text on a terminal, JSON otherwise (a file, a pipe, a log collector)."""
    if fmt == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return fmt


def setup_logging(level: str = "info", fmt: LogFormat = "auto") -> None:
    """Logs go to stderr (stdout is kept for alerts and JSON output)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt) == "json" else TextFormatter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("aiogram").setLevel(logging.WARNING)


class MetricsServer:
    """Serves `/metrics` (Prometheus text), `/healthz` (readiness: 200 while `problems()` is
    empty, 503 with the problems listed otherwise) and `/livez` (liveness: 200 whenever the
    event loop answers; a service whose job died exits instead, so a broker outage, which
    turns `/healthz` red, is no reason to restart it)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        problems: Callable[[], list[str]],
        *,
        setting: str = "metrics.port",
    ) -> None:
        self._registry = registry
        self._host = host
        self._port = port
        self._problems = problems
        self._setting = setting
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/livez", self._alive)
        try:
            self._runner, self.port = await start_app(app, self._host, self._port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self._port, self._setting) from None
            raise

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _alive(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _health(self, request: web.Request) -> web.Response:
        problems = self._problems()
        return web.json_response(
            {"ok": not problems, "problems": problems}, status=503 if problems else 200
        )


def die_with_parent() -> None:
    """In a child process: ask Linux to SIGTERM it when its parent dies (even by kill -9), so
    no broker or service outlives the `mediawatch run` that started it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_with_grace(
    main: Awaitable[None], stop: asyncio.Event, grace_s: float = SHUTDOWN_GRACE_S
) -> None:
    """Await `main`; once `stop` is set give it `grace_s` to return, then cancel it."""
    task = asyncio.ensure_future(main)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            done, _ = await asyncio.wait({task}, timeout=grace_s)
            if not done:
                logging.getLogger("mediawatch").error(
                    "shutdown exceeded %.0fs, cancelling", grace_s
                )
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await task  # re-raise the service's own error, if it failed
    finally:
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopper
