"""What ingest does to text before it publishes: control characters out, oversized items cut."""

from datetime import UTC, datetime

import pytest

from ingest.model import Article, clean_text
from ingest.parse import parse_feed
from ingest.trim import ELLIPSIS, encoded_size, fit

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def article(title: str = "Headline", text: str = "") -> Article:
    return Article(id="a1", url="https://x.example/1", title=title, text=text, source="s",
                   ingested_at=NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x00b", "ab"),
        ("bell\x07 and escape\x1b[31m red", "bell and escape[31m red"),
        ("delete\x7f and C1\x85\x9b", "delete and C1"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
        ("windows\r\nlines\rold mac", "windows\nlines\nold mac"),
        ("زوج\u200c\u200fحروف", "زوج\u200c\u200fحروف"),  # format characters (ZWNJ, RLM) stay
    ],
)
def test_control_characters_other_than_tab_and_newline_are_removed(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_every_article_is_cleaned_whatever_builds_it() -> None:
    a = article("Alert\x00 \x07title", "body\x1b text")
    assert (a.title, a.text) == ("Alert title", "body text")
    assert a.with_text("full\x00 text").text == "full text"
    decoded = Article.model_validate_json(a.model_dump_json().replace("Alert", "Alert\\u0007"))
    assert decoded.title == "Alert title"


def test_a_feed_with_raw_control_bytes_parses_into_clean_articles() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>Truce\x00 broken\x07 \x1b[1mtoday\x7f</title>"
        b"<link>https://x.example/1</link><description>Shelling\x08 resumed</description>"
        b"</item></channel></rss>"
    )
    (parsed,) = parse_feed(body, feed_url="https://x.example/rss", source="x", now=NOW)
    assert parsed.title == "Truce broken [1mtoday"
    assert parsed.text == "Shelling resumed"


def test_an_article_that_fits_is_left_alone() -> None:
    small = article(text="short text")
    assert fit(small, 10_000) == (small, False)


def test_an_oversized_text_is_cut_on_a_word_boundary_to_fit() -> None:
    big = article(text="ceasefire violated again " * 100_000)  # 2.5 MB
    cut, was_cut = fit(big, 64 * 1024)
    assert was_cut and encoded_size(cut) <= 64 * 1024
    assert cut.text.endswith(ELLIPSIS) and cut.text[: -len(ELLIPSIS)].endswith(
        ("again", "violated")
    )
    assert cut.title == big.title and len(cut.text) > 60_000  # as much as fits is kept


def test_multibyte_text_is_cut_between_characters() -> None:
    big = article(text="خرق الهدنة الإنسانية " * 50_000)
    cut, _ = fit(big, 16 * 1024)
    assert encoded_size(cut) <= 16 * 1024
    assert "\ufffd" not in cut.text and cut.text.endswith("…")


def test_a_huge_title_is_cut_once_the_text_is_gone() -> None:
    big = article(title="word " * 10_000, text="x " * 10_000)
    cut, was_cut = fit(big, 8 * 1024)
    assert was_cut and encoded_size(cut) <= 8 * 1024
    assert cut.text == ELLIPSIS and cut.title.endswith(ELLIPSIS)
