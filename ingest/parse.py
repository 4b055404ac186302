"""Turn a feed document into `Article`s: the one entry point is `parse_feed`.

feedparser does the hard part (RSS 0.9x/1.0/2.0, Atom, broken XML, encodings); this module maps
its entries onto our model and strips HTML so the detector sees plain text.
"""

import calendar
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser

from ingest.canonical import article_id, canonical_url
from ingest.encoding import to_utf8
from ingest.errors import FeedParseError
from ingest.model import Article

#: Feed dates further in the future than this are treated as unknown rather than trusted.
MAX_FUTURE_SKEW = timedelta(days=1)
#: Feed dates before this are placeholders (the epoch, year 1) rather than publication times.
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
#: An item without a title is titled with the start of its text, cut at this many characters.
DERIVED_TITLE_CHARS = 120
#: A feed may declare plain entities in its DTD (`<!ENTITY nbsp "&#160;">`), but all their
#: references together may add at most this many bytes: no billion laughs (nested entities are
#: refused outright), no quadratic blow-up, whatever the XML parser underneath does.
MAX_ENTITY_EXPANSION_BYTES = 1024 * 1024

_PROLOG_END_RE = re.compile(rb"<[A-Za-z_]")
_ENTITY_DECL_RE = re.compile(rb"<!ENTITY\b[^>]*>?", re.IGNORECASE)
_SAFE_ENTITY_RE = re.compile(
    rb"<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:\"([^&%\"]*|&#\w+;)\"|'([^&%']*|&#\w+;)')\s*>"
)

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr"})


class _TextExtractor(HTMLParser):
    """Collects text content, turning block elements into line breaks; skips script and style
    (feedparser's sanitiser is off: we never emit HTML, so stripping it here is all it takes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
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
            try:
                when = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                return None
            return None if not EARLIEST_DATE <= when <= now + MAX_FUTURE_SKEW else when
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


def check_entities(body: bytes) -> None:
    """Refuse DTD entity declarations that could expand: nested, external, parameter, or plain
    ones whose references would add more than `MAX_ENTITY_EXPANSION_BYTES`.

    feedparser already drops most declarations, and expat 2.4+ limits amplification; this makes
    the limit ours, explicit and tested, rather than a property of whichever parser runs.
    """
    end = _PROLOG_END_RE.search(body)
    prolog = body[: end.start()] if end else body
    if b"<!ENTITY" not in prolog.upper():
        return
    expansion = 0
    for decl in _ENTITY_DECL_RE.finditer(prolog):
        shown = decl.group(0)[:80].decode("utf-8", "replace")
        m = _SAFE_ENTITY_RE.fullmatch(decl.group(0))
        if m is None:
            raise FeedParseError("", f"entity declaration refused (may expand): {shown}")
        value = m.group(2) if m.group(2) is not None else (m.group(3) or b"")
        expansion += body.count(b"&" + m.group(1) + b";") * len(value)
        if expansion > MAX_ENTITY_EXPANSION_BYTES:
            raise FeedParseError("", f"entity references expand beyond limits: {shown}")


def _feedparser(body: bytes, content_type: str | None) -> Any:
    """Run feedparser, translating whatever it raises into `FeedParseError` (the one boundary)."""
    headers = {"content-type": content_type} if content_type else None
    try:
        return feedparser.parse(  # no sanitising or URI rewriting: we keep only plain text
            body, sanitize_html=False, resolve_relative_uris=False, response_headers=headers
        )
    except (ValueError, TypeError, LookupError, AttributeError, IndexError, KeyError) as exc:
        raise FeedParseError("", f"feedparser failed: {type(exc).__name__}: {exc}") from exc


def _title_from_text(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    if len(first) <= DERIVED_TITLE_CHARS:
        return first
    cut = first[:DERIVED_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


def _resolved(link: str, feed_url: str) -> str:
    if not feed_url.startswith(("http://", "https://")):
        return link
    try:
        return urljoin(feed_url, link)
    except ValueError:  # urllib cannot split it (an unclosed IPv6 bracket): keep it as written
        return link


def _article_url(link: str | None, guid: str | None, feed_url: str) -> str:
    if link:
        return canonical_url(_resolved(link, feed_url))  # a relative link is the feed's
    if guid and guid.startswith(("http://", "https://")):
        return canonical_url(guid)
    return feed_url


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's articles and what the feed says about polling it."""

    articles: list[Article]
    #: The feed's RSS `<ttl>`, in seconds, when it gives a sane one.
    ttl_s: float | None = None


def parse_feed(
    body: bytes | str,
    *,
    feed_url: str,
    source: str,
    lang: str | None = None,
    now: datetime | None = None,
    content_type: str | None = None,
) -> list[Article]:
    """Parse a feed document into articles (see `parse_document`)."""
    return parse_document(
        body, feed_url=feed_url, source=source, lang=lang, now=now, content_type=content_type
    ).articles


def _ttl_seconds(value: Any) -> float | None:
    try:
        minutes = float(str(value).strip())
    except ValueError:
        return None
    return minutes * 60 if 0 < minutes <= 7 * 24 * 60 else None


def parse_document(
    body: bytes | str,
    *,
    feed_url: str,
    source: str,
    lang: str | None = None,
    now: datetime | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Parse a feed document into articles.

    `lang` (from config) wins over the feed's own declaration; `content_type` is the HTTP header,
    whose charset is weighed against the bytes (see `ingest.encoding`). Raises `FeedParseError`
    when the document holds no feed at all or declares entities that could expand; a feed with
    recoverable XML errors still yields its entries. An item without a title is titled with the
    start of its text; one with neither title nor text is skipped. When neither config nor feed
    gives a language it stays None (`ingest.language.with_languages` guesses it).
    """
    now = now or datetime.now(UTC)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    try:
        check_entities(raw)
        utf8 = to_utf8(raw, content_type)
        if utf8 is not raw:
            mime = (content_type or "application/xml").split(";", 1)[0].strip()
            content_type = f"{mime}; charset=utf-8"
        parsed = _feedparser(utf8, content_type)
    except FeedParseError as exc:
        raise FeedParseError(feed_url, exc.reason) from exc
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
        title = title or _title_from_text(text)
        article_lang = lang or _entry_language(entry) or feed_lang
        articles.append(
            Article(
                id=article_id(
                    _resolved(link, feed_url) if link else None, guid, f"{feed_url}\x1f{title}"
                ),
                url=_article_url(link, guid, feed_url),
                title=title,
                text=text,
                source=source,
                feed_url=feed_url,
                lang=article_lang,
                published_at=_entry_time(entry, now),
                ingested_at=now,
            )
        )
    ttl = parsed.feed.get("ttl")
    return ParsedFeed(articles, _ttl_seconds(ttl) if ttl else None)
