"""Hostile and broken feeds: the feedparser corpus, lying encodings, entity bombs, odd items.

Every file of feedparser's own test corpus (tests/data/feedparser-tests, BSD-2-Clause, LICENSE
beside it) must become articles or a `FeedParseError`: never another exception, never a hang.
"""

import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.encoding import detect_encoding
from ingest.errors import FeedParseError
from ingest.model import Article
from ingest.parse import MAX_ENTITY_EXPANSION_BYTES, parse_document, parse_feed
from tests.helpers import REPO

CORPUS = REPO / "tests" / "data" / "feedparser-tests"
CORPUS_FILES = sorted(CORPUS.rglob("*.xml"))
NOW = datetime(2026, 11, 24, tzinfo=UTC)
#: Generous bound per file (they parse in milliseconds): only a hang can exceed it.
PER_FILE_TIMEOUT_S = 20.0
_HEADER_RE = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield executor


def content_type_of(body: bytes) -> str | None:
    """The `Header: Content-type:` a corpus file says it is served with."""
    m = _HEADER_RE.search(body)
    return m.group(1).decode("latin-1") if m else None


def parse_or_error(path: Path) -> list[Article] | FeedParseError:
    body = path.read_bytes()
    try:
        return parse_feed(
            body, feed_url=str(path), source=path.stem, now=NOW, content_type=content_type_of(body)
        )
    except FeedParseError as exc:
        return exc


def test_corpus_is_complete_and_licensed() -> None:
    assert len(CORPUS_FILES) == 621
    assert (
        "BSD" in (CORPUS / "LICENSE").read_text()
        or "Redistribution" in (CORPUS / "LICENSE").read_text()
    )


@pytest.mark.parametrize(
    "path", CORPUS_FILES, ids=[str(p.relative_to(CORPUS)) for p in CORPUS_FILES]
)
def test_every_corpus_file_gives_articles_or_a_parse_error(
    path: Path, pool: ThreadPoolExecutor
) -> None:
    outcome = pool.submit(parse_or_error, path).result(timeout=PER_FILE_TIMEOUT_S)
    if isinstance(outcome, FeedParseError):
        assert outcome.source == str(path) and outcome.reason
    else:
        assert all(isinstance(a, Article) and a.title for a in outcome)


def test_corpus_outcomes_overall() -> None:
    """Most of the corpus is a feed: pin the counts so a regression that drops feeds shows."""
    outcomes = Counter(
        "error" if isinstance(o, FeedParseError) else ("articles" if o else "empty")
        for o in map(parse_or_error, CORPUS_FILES)
    )
    assert outcomes["articles"] >= 110, outcomes
    assert outcomes["error"] <= 10, outcomes


RSS = """<?xml version="1.0" encoding="{enc}"?>
<rss version="2.0"><channel><title>T</title>
<item><title>{title}</title><link>https://e.example/1</link>
<description>{text}</description></item></channel></rss>"""
ARABIC_TITLE = "قصف جوي ومدفعي بين أرمينيا وأذربيجان.. علييف يتوعد"
ARABIC_TEXT = "اتهمت أذربيجان أرمينيا بخرق الهدنة الإنسانية، مهددًا بقطع العلاقات الدبلوماسية"


@pytest.mark.parametrize(
    ("declared", "content_type", "codec"),
    [
        ("windows-1256", None, "cp1256"),  # honest
        ("utf-8", None, "cp1256"),  # declaration lies
        ("iso-8859-1", None, "cp1256"),  # declaration lies, in a code page that decodes anything
        ("windows-1256", "text/xml; charset=iso-8859-1", "cp1256"),  # the web server lies
        ("utf-8", "application/rss+xml; charset=windows-1252", "cp1256"),  # both lie
        ("iso-8859-6", None, "iso8859_6"),
        ("iso-8859-1", "text/xml; charset=iso-8859-1", "utf-8"),  # UTF-8 bytes, Latin-1 labels
    ],
)
def test_arabic_feeds_decode_whatever_they_declare(
    declared: str, content_type: str | None, codec: str
) -> None:
    body = RSS.format(enc=declared, title=ARABIC_TITLE, text=ARABIC_TEXT).encode(codec)
    (article,) = parse_feed(body, feed_url="f", source="s", now=NOW, content_type=content_type)
    assert article.title == ARABIC_TITLE
    assert article.text == ARABIC_TEXT


def test_latin_feeds_keep_their_declared_encoding() -> None:
    title = "Le gouvernement français a annoncé un accord été"
    body = RSS.format(enc="iso-8859-1", title=title, text="résumé").encode("latin-1")
    assert detect_encoding(body) == "iso8859_1"
    (article,) = parse_feed(body, feed_url="f", source="s", now=NOW)
    assert article.title == title


def _laughs(levels: int) -> str:
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    return "".join(decls)


@pytest.mark.parametrize(
    "dtd",
    [
        _laughs(10),  # billion laughs
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">',  # external entity
        '<!ENTITY % p "x">',  # parameter entity
    ],
)
def test_dangerous_entity_declarations_are_refused(dtd: str) -> None:
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{dtd}]><rss version="2.0"><channel><title>T'
        "</title><item><title>&lol9;&xxe;</title><link>https://e.example/1</link></item>"
        "</channel></rss>"
    )
    with pytest.raises(FeedParseError, match="entity"):
        parse_feed(body.encode(), feed_url="f", source="s", now=NOW)


def test_quadratic_blowup_is_refused_but_small_entities_pass() -> None:
    value = "A" * 1000
    refs = "&a;" * (MAX_ENTITY_EXPANSION_BYTES // len(value) + 1)
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{value}">]><rss version="2.0">'
        f"<channel><item><title>x</title><description>{refs}</description></item></channel></rss>"
    )
    with pytest.raises(FeedParseError, match="expand beyond"):
        parse_feed(bomb.encode(), feed_url="f", source="s", now=NOW)
    fine = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY co "Acme Co">]><rss version="2.0">'
        "<channel><item><title>News from &co;</title><link>https://e.example/1</link></item>"
        "</channel></rss>"
    )
    (article,) = parse_feed(fine.encode(), feed_url="f", source="s", now=NOW)
    assert article.title == "News from Acme Co"


@pytest.mark.parametrize(
    ("date", "kept"),
    [
        ("Wed, 14 Oct 2020 10:00:00 GMT", True),
        ("Fri, 01 Jan 2100 00:00:00 GMT", False),  # beyond tomorrow
        ("Thu, 01 Jan 1970 00:00:00 GMT", False),  # the epoch: a placeholder
        ("Sun, 31 Dec 1989 23:59:59 GMT", False),
        ("Mon, 01 Jan 1990 00:00:00 GMT", True),
        ("Tue, 24 Nov 2026 12:00:00 GMT", True),  # later today
        ("not a date at all", False),
    ],
)
def test_absurd_dates_become_unknown(date: str, kept: bool) -> None:
    body = RSS.replace("</link>", "</link><pubDate>{date}</pubDate>").format(
        enc="utf-8", title="x", text="y", date=date
    )
    (article,) = parse_feed(body.encode(), feed_url="f", source="s", now=NOW)
    assert (article.published_at is not None) is kept


def test_items_without_titles_or_links() -> None:
    long_text = "Word " * 60
    body = f"""<rss version="2.0"><channel><title>T</title>
    <item><description>Ceasefire violated near the border. More follows.</description>
      <link>https://e.example/a</link></item>
    <item><description>{long_text}</description><guid>https://e.example/b</guid></item>
    <item><title>No link, opaque guid</title><guid isPermaLink="false">abc-123</guid></item>
    <item><title>Neither link nor guid</title></item>
    <item><title></title><description></description></item>
    </channel></rss>"""
    articles = parse_feed(body.encode(), feed_url="https://feed.example/rss", source="s", now=NOW)
    assert [a.title for a in articles][:1] == ["Ceasefire violated near the border. More follows."]
    assert articles[1].title.endswith("…") and len(articles[1].title) <= 121
    assert articles[1].url == "https://e.example/b"
    assert articles[2].url == "https://feed.example/rss"
    assert articles[3].title == "Neither link nor guid"
    assert len(articles) == 4  # the empty item is skipped
    assert len({a.id for a in articles}) == 4


def test_scripts_never_reach_the_text_and_relative_links_resolve_against_the_feed() -> None:
    body = b"""<rss version="2.0"><channel><title>T</title><item>
    <title>Hello &lt;script&gt;alert(1)&lt;/script&gt;world</title>
    <link>/news/1?utm_source=rss</link>
    <description>&lt;style&gt;p {color: red}&lt;/style&gt;&lt;p&gt;Body&lt;/p&gt;
    &lt;script&gt;track()&lt;/script&gt;</description></item></channel></rss>"""
    (article,) = parse_feed(body, feed_url="https://news.example/rss/feed.xml", source="s")
    assert article.title == "Hello world"
    assert article.text == "Body"
    assert article.url == "https://news.example/news/1"


@pytest.mark.parametrize(
    ("ttl", "seconds"), [("15", 900.0), ("0", None), ("x", None), ("99999", None)]
)
def test_rss_ttl_is_read_in_minutes_when_sane(ttl: str, seconds: float | None) -> None:
    body = (
        f'<rss version="2.0"><channel><ttl>{ttl}</ttl><item><title>a</title></item></channel></rss>'
    )
    assert parse_document(body.encode(), feed_url="f", source="s", now=NOW).ttl_s == seconds
