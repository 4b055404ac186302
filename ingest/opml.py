"""OPML 2.0 subscription lists in and out: `read_opml` and `write_opml`.

Reading uses `listparser` (it copes with the OPML dialects readers export); writing builds OPML
2.0 with ElementTree so names are always escaped. Both are pure: bytes in, bytes out.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree import ElementTree

import listparser

from ingest.errors import FeedParseError, OpmlError
from ingest.parse import check_entities


@dataclass(frozen=True)
class OpmlFeed:
    """One subscription: its feed URL, a title when the list gave one, a language if known."""

    url: str
    title: str | None = None
    lang: str | None = None


def read_opml(body: bytes, *, source: str = "OPML") -> list[OpmlFeed]:
    """The feeds an OPML document subscribes to, in document order, each URL once.

    Raises `OpmlError` when the document is not OPML at all.
    """
    try:
        check_entities(body)
    except FeedParseError as exc:
        raise OpmlError(source, exc.reason) from exc
    parsed = listparser.parse(body)
    if not parsed.get("version"):
        reason = str(parsed.get("bozo_exception") or "not an OPML document")
        raise OpmlError(source, reason)
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    for entry in parsed.feeds:
        url = str(entry.get("url") or "").strip()
        if not url or url in seen:
            continue
        seen.add(url)
        title = str(entry.get("title") or "").strip() or None
        feeds.append(OpmlFeed(url=url, title=title if title != url else None))
    return feeds


def write_opml(
    feeds: Iterable[OpmlFeed], *, title: str = "mediawatch feeds", now: datetime | None = None
) -> bytes:
    """An OPML 2.0 document subscribing to `feeds` (one `<outline type="rss">` each)."""
    opml = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(opml, "head")
    ElementTree.SubElement(head, "title").text = title
    created = format_datetime(now or datetime.now(UTC), usegmt=True)
    ElementTree.SubElement(head, "dateCreated").text = created
    body = ElementTree.SubElement(opml, "body")
    for feed in feeds:
        name = feed.title or feed.url
        attrs = {"type": "rss", "text": name, "title": name, "xmlUrl": feed.url}
        if feed.lang:
            attrs["language"] = feed.lang
        ElementTree.SubElement(body, "outline", attrs)
    ElementTree.indent(opml)
    document: bytes = ElementTree.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
