"""OPML 2.0 subscription lists in and out: `read_opml` and `write_opml`.

Both are pure (bytes in, bytes out) and carry every field a mediawatch feed has: the title, the
OPML 2.0 `language` attribute, and `interval` and `fullText` in mediawatch's own namespace
(OPML 2.0 allows namespaced attributes; other readers ignore them). Reading runs expat event by
event after `check_entities`: outlines nested deeper than `MAX_DEPTH` are refused, so a hostile
file costs linear time and no recursion (listparser, used before, copied the outline hierarchy
into every feed and compared category lists pairwise: quadratic on a crafted file).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree import ElementTree
from xml.parsers import expat

from ingest.errors import FeedParseError, OpmlError
from ingest.parse import check_entities

#: The XML namespace of mediawatch's own outline attributes.
NAMESPACE = "urn:mediawatch:opml"
#: Elements nested deeper than this are refused (readers export folders one or two deep).
MAX_DEPTH = 64

ElementTree.register_namespace("mediawatch", NAMESPACE)


@dataclass(frozen=True)
class OpmlFeed:
    """One subscription: its feed URL and what the list says about it.

    `interval` is kept as written (`5m`), for the config to validate like any other.
    """

    url: str
    title: str | None = None
    lang: str | None = None
    interval: str | None = None
    full_text: bool = False


class _TooDeep(Exception):
    """Raised from an expat handler to stop the parse at the first element too deep."""


class _Outlines:
    """Expat handlers collecting `<outline xmlUrl=...>` feeds, each URL once."""

    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.depth = 0
        self.root: str | None = None
        self.feeds: dict[str, OpmlFeed] = {}
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            line = self.parser.CurrentLineNumber
            raise _TooDeep(f"elements nested more than {MAX_DEPTH} deep at line {line}")
        local = name.rpartition(" ")[2]
        self.root = self.root or local
        if local == "outline":
            self.outline(attributes)

    def end(self, name: str) -> None:
        self.depth -= 1

    def outline(self, attributes: dict[str, str]) -> None:
        plain: dict[str, str] = {}  # OPML's own attributes, whatever their case (xmlurl)
        ours: dict[str, str] = {}  # those in mediawatch's namespace
        for key, value in attributes.items():
            namespace, _, local = key.rpartition(" ")
            if not namespace:
                plain[local.lower()] = value.strip()
            elif namespace == NAMESPACE:
                ours[local] = value.strip()
        url = plain.get("xmlurl", "")
        if not url or url in self.feeds or plain.get("type", "").lower() == "source":
            return  # not a feed (a folder, a link, another list), or seen already
        title = plain.get("text") or plain.get("title") or None
        self.feeds[url] = OpmlFeed(
            url=url,
            title=title if title != url else None,
            lang=_language(plain.get("language")),
            interval=ours.get("interval") or None,
            full_text=ours.get("fullText", "").lower() == "true",
        )


def _language(code: str | None) -> str | None:
    """`en-US`, `ar_SA` → `en`, `ar`: the config keeps the language, not the region."""
    return (code or "").lower().replace("_", "-").split("-")[0] or None


def read_opml(body: bytes, *, source: str = "OPML") -> list[OpmlFeed]:
    """The feeds an OPML document subscribes to, in document order, each URL once.

    Raises `OpmlError` when the document is not well-formed OPML, declares entities that could
    expand, or nests deeper than `MAX_DEPTH`.
    """
    try:
        check_entities(body)
    except FeedParseError as exc:
        raise OpmlError(source, exc.reason) from exc
    parser = expat.ParserCreate(namespace_separator=" ")
    outlines = _Outlines(parser)
    try:
        parser.Parse(body, True)
    except _TooDeep as exc:
        raise OpmlError(source, str(exc)) from exc
    except expat.ExpatError as exc:
        reason = expat.errors.messages[exc.code]
        raise OpmlError(source, f"not well-formed XML: {reason} at line {exc.lineno}") from exc
    if outlines.root != "opml":
        raise OpmlError(source, "not an OPML document (its root element is not <opml>)")
    return list(outlines.feeds.values())


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
        if feed.interval:
            attrs[f"{{{NAMESPACE}}}interval"] = feed.interval
        if feed.full_text:
            attrs[f"{{{NAMESPACE}}}fullText"] = "true"
        ElementTree.SubElement(body, "outline", attrs)
    ElementTree.indent(opml)
    document: bytes = ElementTree.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
