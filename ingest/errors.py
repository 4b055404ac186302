"""Errors raised by the ingest package.

IngestError
├── FetchError            network or HTTP failure fetching a feed (retriable unless 4xx)
│   ├── HTTPStatusError   the server answered with an error status
│   └── BlockedAddressError  the URL (or a redirect) leads to a non-public address (not retriable)
├── FeedParseError        the body is not a feed feedparser can read (not retriable)
├── OpmlError             a subscription list is not OPML we can read (not retriable)
└── PublishError          the broker did not take the articles (retriable or not, as it said)
"""


class IngestError(Exception):
    """Root of every error the ingest package raises."""

    retriable = False


class FetchError(IngestError):
    """The feed could not be fetched; transient network trouble is worth another try."""

    retriable = True

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class HTTPStatusError(FetchError):
    """The server answered with a status that is neither 2xx nor 304."""

    def __init__(self, url: str, status: int, *, retry_after_s: float | None = None) -> None:
        super().__init__(url, f"HTTP {status}")
        self.status = status
        self.retriable = status >= 500 or status == 429
        #: What the server's `Retry-After` asked for (429, 503), in seconds.
        self.retry_after_s = retry_after_s


class BlockedAddressError(FetchError):
    """The feed URL, after DNS resolution or a redirect, points at a private or local address."""

    retriable = False


class FeedParseError(IngestError):
    """The document is not a feed we can read."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class OpmlError(IngestError):
    """The document is not an OPML subscription list we can read."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class PublishError(IngestError):
    """The broker did not acknowledge the articles; nothing was marked seen, so the next poll
    offers them again. `retriable` comes from the broker client's own judgement."""

    def __init__(self, reason: str, *, retriable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retriable = retriable
