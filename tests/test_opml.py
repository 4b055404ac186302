"""`read_opml` on hostile subscription lists: a clear `OpmlError` or a linear-time answer."""

import pytest

from ingest.errors import OpmlError
from ingest.opml import MAX_DEPTH, OpmlFeed, read_opml, write_opml

HEAD = b'<?xml version="1.0"?><opml version="2.0"><head/><body>'
TAIL = b"</body></opml>"


def test_outlines_nested_thousands_deep_are_refused() -> None:
    deep = HEAD + b'<outline text="g">' * 100_000 + b"</outline>" * 100_000 + TAIL
    with pytest.raises(OpmlError, match=f"elements nested more than {MAX_DEPTH} deep at line 1"):
        read_opml(deep, source="deep.opml")


def test_what_used_to_be_quadratic_is_linear() -> None:
    """listparser copied the folder path into each feed and compared category lists pairwise:
    these took minutes; the 120 s test timeout is the bound."""
    categories = b",".join(b"c%d" % i for i in range(200_000))
    one = b'<outline type="rss" text="x" xmlUrl="https://a.example/" category="' + categories
    folders = b'<outline text="g">' * (MAX_DEPTH - 3)
    feeds = b"".join(b'<outline xmlUrl="https://f.example/%d"/>' % i for i in range(100_000))
    again = b'<outline xmlUrl="https://f.example/1" category="a,b"/>' * 100_000
    body = HEAD + one + b'"/>' + folders + feeds + again + b"</outline>" * (MAX_DEPTH - 3) + TAIL
    found = read_opml(body)
    assert len(found) == 100_001 and found[0] == OpmlFeed("https://a.example/", "x")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<opml><body><outline", "not well-formed XML: unclosed token at line 1"),
        (b"<html><body/></html>", "not an OPML document"),
        (
            b'<!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><opml/>',
            "entity declaration refused",
        ),
    ],
)
def test_what_is_not_opml_is_an_opml_error(body: bytes, reason: str) -> None:
    with pytest.raises(OpmlError, match=reason):
        read_opml(body, source="x.opml")


def test_written_outlines_read_back_whole() -> None:
    feeds = [
        OpmlFeed("https://a.example/rss", "A & <B>", "ar", "90s", full_text=True),
        OpmlFeed("https://b.example/rss"),
    ]
    assert read_opml(write_opml(feeds)) == feeds
