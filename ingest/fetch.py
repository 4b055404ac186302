"""Fetch a feed over HTTP with a conditional GET: the one entry point is `fetch_feed`."""

from dataclasses import dataclass

import aiohttp

from ingest.errors import FetchError, HTTPStatusError

#: Bodies larger than this are refused: a feed is never this big, a hostile server might be.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Validators:
    """What the server told us last time, sent back so it can answer 304."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """A fetch's outcome: `body` is None when the server said 304 Not Modified."""

    body: bytes | None
    validators: Validators
    status: int


async def fetch_feed(
    session: aiohttp.ClientSession,
    url: str,
    validators: Validators,
    *,
    timeout_s: float = 30.0,
    max_bytes: int = MAX_BODY_BYTES,
) -> FetchResult:
    """GET `url`, sending `If-None-Match`/`If-Modified-Since`; raises a `FetchError` on failure."""
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml, */*;q=0.5"}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    try:
        async with session.get(
            url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            max_redirects=5,
        ) as response:
            if response.status == 304:
                return FetchResult(None, validators, 304)
            if response.status >= 400:
                raise HTTPStatusError(url, response.status)
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(url, f"body larger than {max_bytes} bytes")
            fresh = Validators(
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
            return FetchResult(bytes(body), fresh, response.status)
    except TimeoutError as exc:
        raise FetchError(url, f"timed out after {timeout_s:g}s") from exc
    except aiohttp.ClientError as exc:
        raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
