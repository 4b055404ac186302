"""Turn a feed document into `Article`s: the one entry point is `parse_feed`.

feedparser does the hard part (RSS 0.9x/1.0/2.0, Atom, broken XML, encodings); this module maps
its entries onto our model and strips HTML so the detector sees plain text.
"""

import calendar
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import feedparser

from ingest.canonical import article_id, canonical_url
from ingest.errors import FeedParseError
from ingest.model import Article

#: Feed dates further in the future than this are treated as unknown rather than trusted.
MAX_FUTURE_SKEW = timedelta(days=1)

_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr"})


class _TextExtractor(HTMLParser):
    """Collects text content, turning block elements into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed within lines."""
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _entry_time(entry: Any, now: datetime) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed: time.struct_time | None = entry.get(key)
        if parsed:
            when = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            return None if when > now + MAX_FUTURE_SKEW else when
    return None


def _entry_text(entry: Any) -> str:
    candidates = [c.get("value", "") for c in entry.get("content", [])]
    candidates.append(entry.get("summary", ""))
    best = max(candidates, key=len)
    return html_to_text(best)


def _entry_language(entry: Any) -> str | None:
    """Atom's xml:lang reaches feedparser as the language of the entry's text constructs."""
    for key in ("title_detail", "summary_detail"):
        detail = entry.get(key) or {}
        if detail.get("language"):
            return _language(detail["language"])
    return None


def _language(code: str | None) -> str | None:
    if not code:
        return None
    return code.strip().lower().replace("_", "-").split("-")[0] or None


def parse_feed(
    body: bytes | str,
    *,
    feed_url: str,
    source: str,
    lang: str | None = None,
    now: datetime | None = None,
) -> list[Article]:
    """Parse a feed document into articles.

    `lang` (from config) wins over the feed's own declaration. Raises `FeedParseError` when the
    document holds no feed at all; a feed with recoverable XML errors still yields its entries.
    """
    now = now or datetime.now(UTC)
    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=True)
    if parsed.bozo and not parsed.entries:
        reason = str(parsed.get("bozo_exception") or "not a feed")
        raise FeedParseError(feed_url, reason)
    if not parsed.entries and not parsed.get("version"):
        raise FeedParseError(feed_url, "not an RSS or Atom feed")
    feed_lang = lang or _language(parsed.feed.get("language"))
    articles = []
    for entry in parsed.entries:
        title = html_to_text(entry.get("title", "")).strip()
        link = entry.get("link") or None
        guid = entry.get("id") or None
        text = _entry_text(entry)
        if not (title or text):
            continue
        articles.append(
            Article(
                id=article_id(link, guid, f"{feed_url}\x1f{title}"),
                url=canonical_url(link) if link else (guid or feed_url),
                title=title,
                text=text,
                source=source,
                feed_url=feed_url,
                lang=lang or _entry_language(entry) or feed_lang,
                published_at=_entry_time(entry, now),
                ingested_at=now,
            )
        )
    return articles
