"""Fetch a feed over HTTP with a conditional GET: the one entry point is `fetch_feed`.

Every fetch is bounded (`FetchLimits`): total time including a slow-dripped body, number of
redirects, and body size counted *after* decompression as it streams in, so neither a huge body
nor a gzip bomb is ever held in memory beyond the cap. What the server says about when to come
back (`Cache-Control: max-age`, `Retry-After`) is returned for the scheduler to weigh.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from ingest.errors import BlockedAddressError, FetchError, HTTPStatusError
from ingest.netguard import AddressRefused, guarded_socket

#: Bodies larger than this are refused: a feed is never this big, a hostile server might be.
MAX_BODY_BYTES = 10 * 1024 * 1024

USER_AGENT = "mediawatch/0.1 (+https://github.com/mediawatch/mediawatch)"

_MAX_AGE_RE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})", re.IGNORECASE)


@dataclass(frozen=True)
class FetchLimits:
    """How much one fetch may cost: seconds in all, bytes decompressed, redirects followed."""

    timeout_s: float = 30.0
    max_bytes: int = MAX_BODY_BYTES
    max_redirects: int = 5


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
    content_type: str | None = None
    #: `Cache-Control: max-age` in seconds, when the server gave one.
    max_age_s: float | None = None


def parse_max_age(cache_control: str | None) -> float | None:
    """Seconds from `Cache-Control: max-age=N`; 0 for no-cache or no-store; None when absent."""
    if not cache_control:
        return None
    if "no-cache" in cache_control.lower() or "no-store" in cache_control.lower():
        return 0.0
    m = _MAX_AGE_RE.search(cache_control)
    return float(m.group(1)) if m else None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from `Retry-After`: either delta-seconds or an HTTP date; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def connector(
    *, allow_private_networks: bool = False, limit: int = 100, limit_per_host: int = 0
) -> aiohttp.TCPConnector:
    """The connector fetches should use: pooled, DNS cached, and refusing non-public addresses
    (after resolution, on every redirect) unless `allow_private_networks`."""
    return aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=limit_per_host,
        ttl_dns_cache=300,
        socket_factory=None if allow_private_networks else guarded_socket,
    )


def client_session(
    *, allow_private_networks: bool = False, limit: int = 100, limit_per_host: int = 0
) -> aiohttp.ClientSession:
    """The one session every fetch of a process shares: pooled connections, a per-host cap,
    cached DNS, our User-Agent, and no private addresses unless `allow_private_networks`."""
    pool = connector(
        allow_private_networks=allow_private_networks, limit=limit, limit_per_host=limit_per_host
    )
    return aiohttp.ClientSession(connector=pool, headers={"User-Agent": USER_AGENT})


def _refusal(exc: BaseException) -> AddressRefused | None:
    """The `AddressRefused` behind a connection error (aiohttp and happy eyeballs wrap it)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, AddressRefused):
            return seen
        nested = getattr(seen, "os_error", None)
        seen = nested if nested is not None and nested is not seen else seen.__cause__
    return None


async def fetch_feed(
    session: aiohttp.ClientSession,
    url: str,
    validators: Validators,
    *,
    limits: FetchLimits | None = None,
) -> FetchResult:
    """GET `url`, sending `If-None-Match`/`If-Modified-Since`; raises a `FetchError` on failure."""
    limits = limits or FetchLimits()
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml, */*;q=0.5"}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    try:
        async with session.get(
            url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=limits.timeout_s),
            max_redirects=limits.max_redirects + 1,  # aiohttp counts the final answer too
        ) as response:
            max_age = parse_max_age(response.headers.get("Cache-Control"))
            if response.status == 304:
                return FetchResult(None, validators, 304, max_age_s=max_age)
            if response.status >= 400:
                raise HTTPStatusError(
                    url,
                    response.status,
                    retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
                )
            declared = response.content_length
            encoded = response.headers.get("Content-Encoding", "identity").lower()
            if declared is not None and encoded == "identity" and declared > limits.max_bytes:
                raise FetchError(url, f"body larger than {limits.max_bytes} bytes")
            body = bytearray()
            # aiohttp decompresses as it streams, in bounded pieces: count what comes out
            async for chunk in response.content.iter_chunked(64 * 1024):
                body.extend(chunk)
                if len(body) > limits.max_bytes:
                    raise FetchError(url, f"body larger than {limits.max_bytes} bytes")
            fresh = Validators(
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
            return FetchResult(
                bytes(body),
                fresh,
                response.status,
                content_type=response.headers.get("Content-Type"),
                max_age_s=max_age,
            )
    except TimeoutError as exc:
        raise FetchError(url, f"timed out after {limits.timeout_s:g}s") from exc
    except aiohttp.TooManyRedirects as exc:
        raise FetchError(url, f"more than {limits.max_redirects} redirects") from exc
    except aiohttp.ClientConnectorError as exc:
        refused = _refusal(exc)
        if refused is not None:
            raise BlockedAddressError(url, f"refused: {refused}") from exc
        if "allow_private_networks is off" in str(exc):  # several addresses, all refused
            raise BlockedAddressError(url, f"refused: {exc.os_error}") from exc
        raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
