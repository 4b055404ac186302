"""What every service process shares: logging, the metrics/health HTTP server, signal handling.

One shutdown path: SIGINT/SIGTERM set a stop event; the service's loop finishes the batch in
hand, commits, and returns; anything still running after `SHUTDOWN_GRACE_S` is cancelled.
"""

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.http import start_app

#: Upper bound of a graceful shutdown; k8s terminationGracePeriodSeconds is set above it (30 s).
SHUTDOWN_GRACE_S = 20.0

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the record's `extra` keys (feed_url, article_id, …)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(level: str = "info", *, json_logs: bool = True) -> None:
    """Logs go to stderr (stdout is kept for alerts and JSON output)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("aiogram").setLevel(logging.WARNING)


class MetricsServer:
    """Serves `/metrics` (Prometheus text) and `/healthz` (200 while `healthy()` is true)."""

    def __init__(
        self, registry: CollectorRegistry, host: str, port: int, healthy: Callable[[], bool]
    ) -> None:
        self._registry = registry
        self._host = host
        self._port = port
        self._healthy = healthy
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._health)
        self._runner, self.port = await start_app(app, self._host, self._port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, request: web.Request) -> web.Response:
        ok = self._healthy()
        return web.json_response({"ok": ok}, status=200 if ok else 503)


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
