"""Issue 12's audit of feed parsing: hostile feeds parse in linear time without recursion, and
one broken link never sinks a feed's other items."""

from ingest.parse import parse_document

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>%s</channel></rss>'
ATOM = (
    b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
    b'<entry><title>x</title><id>1</id><content type="xhtml">'
    b'<div xmlns="http://www.w3.org/1999/xhtml">%s</div></content></entry></feed>'
)
DEEP = 100_000


def texts(body: bytes) -> list[str]:
    parsed = parse_document(body, feed_url="https://f.example/", source="s")
    return [a.text for a in parsed.articles]


def test_elements_nested_100000_deep_are_parsed_without_recursion() -> None:
    nested = b"<a>" * DEEP + b"ceasefire" + b"</a>" * DEEP
    item = b"<item><title>x</title><description>%s</description></item>"
    assert texts(RSS % (item % nested)) == ["ceasefire"]
    assert texts(ATOM % (b"<div>" * DEEP + b"ceasefire" + b"</div>" * DEEP)) == ["ceasefire"]
    unclosed = b"<a>" * DEEP + b"ceasefire"  # not well-formed: feedparser's loose parser
    assert texts(RSS % (item % unclosed)) == ["ceasefire"]


def test_a_link_urllib_cannot_split_keeps_the_other_items() -> None:
    items = b"".join(
        b"<item><title>%s</title><link>%s</link></item>" % (title, link)
        for title, link in [
            (b"bad port", b"http://a.example:99999/x"),
            (b"bad ipv6", b"http://[::1/x"),
            (b"good", b"https://b.example/story?utm_source=x"),
        ]
    )
    parsed = parse_document(RSS % items, feed_url="https://f.example/", source="s")
    assert [(a.title, a.url) for a in parsed.articles] == [
        ("bad port", "http://a.example:99999/x"),
        ("bad ipv6", "http://[::1/x"),
        ("good", "https://b.example/story"),
    ]
