"""A small real HTTP server for feed files, honouring ETag and If-Modified-Since.

`mediawatch demo` serves the bundled samples with it; tests use it (with its fault switches) as
the web's feeds: slow answers, slow-drip bodies, error statuses, redirects (and loops of them),
gzip bodies (and bombs), extra headers and arbitrary bodies are one attribute away.
"""

import asyncio
import gzip
import hashlib
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from aiohttp import web

from services.http import start_app


@dataclass
class ServedFeed:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))
    #: Served with `Content-Encoding: gzip` (compressed once, when first served).
    gzip: bool = False
    #: Send ETag and Last-Modified (many real servers send neither).
    validators: bool = True
    #: Extra response headers (Cache-Control, Retry-After, ...).
    headers: dict[str, str] = field(default_factory=dict)
    _gzipped: bytes | None = field(default=None, repr=False)

    def encoded(self) -> bytes:
        if not self.gzip:
            return self.body
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6)
        return self._gzipped

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class FeedServer:
    """Serves `feeds[path]` at `http://HOST:PORT/path` (HOST: 127.0.0.1); counts requests."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.feeds: dict[str, ServedFeed] = {}
        self.status_override: dict[str, int] = {}
        self.delay_s: dict[str, float] = {}
        #: Send the body in small pieces this many seconds apart (a slow-drip server).
        self.drip_s: dict[str, float] = {}
        #: Answer 302 with this Location (a path of this server or an absolute URL).
        self.redirects: dict[str, str] = {}
        #: Extra headers on error answers of `status_override` (e.g. Retry-After on a 429).
        self.error_headers: dict[str, dict[str, str]] = {}
        self.requests: dict[str, int] = {}
        #: Requests being answered now, the most ever at once, and when each one arrived.
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []
        self.not_modified: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    @classmethod
    def from_directory(cls, directory: Path) -> "FeedServer":
        server = cls()
        for path in sorted(directory.glob("*.xml")):
            server.feeds[path.name] = ServedFeed(path.read_bytes())
        return server

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        self._runner, self.port = await start_app(app, self.host)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.arrivals.append(asyncio.get_running_loop().time())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.requests[path] = self.requests.get(path, 0) + 1
        if path in self.delay_s:
            await asyncio.sleep(self.delay_s[path])
        if path in self.status_override:
            return web.Response(
                status=self.status_override[path],
                text="injected failure",
                headers=self.error_headers.get(path, {}),
            )
        if path in self.redirects:
            target = self.redirects[path]
            location = target if "://" in target else self.url(target.lstrip("/"))
            return web.Response(status=302, headers={"Location": location})
        feed = self.feeds.get(path)
        if feed is None:
            return web.Response(status=404, text="no such feed")
        headers = dict(feed.headers)
        if feed.validators:
            headers.update({"ETag": feed.etag, "Last-Modified": feed.last_modified})
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:  # RFC 9110 13.1.3: the ETag check wins over the date
            fresh = if_none_match == feed.etag
        else:
            fresh = request.headers.get("If-Modified-Since") == feed.last_modified
        if fresh and feed.validators:
            self.not_modified[path] = self.not_modified.get(path, 0) + 1
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = feed.content_type
        if feed.gzip:
            headers["Content-Encoding"] = "gzip"
        body = feed.encoded()
        if path not in self.drip_s:
            return web.Response(body=body, headers=headers)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        for start in range(0, len(body), 64):
            await response.write(body[start : start + 64])
            await asyncio.sleep(self.drip_s[path])
        await response.write_eof()
        return response
