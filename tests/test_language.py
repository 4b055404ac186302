"""Language guessing for feeds that do not say, with the model py3langid ships."""

from collections.abc import Iterator

import pytest

from ingest.language import LanguageGuesser, with_languages
from ingest.parse import parse_document
from tests.helpers import REPO

SAMPLES = REPO / "samples" / "feeds"


@pytest.fixture(scope="module")
def guesser() -> Iterator[LanguageGuesser]:
    yield LanguageGuesser()


def undeclared(body: bytes) -> bytes:
    """The feed without any language declaration (channel <language>, xml:lang)."""
    for tag in (b"<language>ar</language>", b"<language>en</language>"):
        body = body.replace(tag, b"")
    return body.replace(b'xml:lang="ar"', b"").replace(b'xml:lang="en"', b"")


@pytest.mark.parametrize("name", ["sabq-ar.xml", "world-en.xml", "mixed-atom.xml"])
def test_sample_items_get_their_language_back_when_the_feed_says_nothing(
    name: str, guesser: LanguageGuesser
) -> None:
    body = (SAMPLES / name).read_bytes()
    declared = parse_document(body, feed_url="f", source="s").articles
    assert all(a.lang in {"ar", "en"} for a in declared)
    bare = parse_document(undeclared(body), feed_url="f", source="s").articles
    assert all(a.lang is None for a in bare)  # the declarations are really gone
    guessed = with_languages(bare, guesser)
    assert [a.lang for a in guessed] == [a.lang for a in declared]


def test_declared_languages_win_and_unsure_guesses_stay_unknown(guesser: LanguageGuesser) -> None:
    body = (
        b'<rss version="2.0"><channel><language>fr</language><item><title>Russia threatens '
        b"to cut ties</title><link>https://e.example/1</link></item></channel></rss>"
    )
    (article,) = with_languages(parse_document(body, feed_url="f", source="s").articles, guesser)
    assert article.lang == "fr"  # the feed said so: its word is kept
    assert guesser.guess("12345 678") is None
    assert guesser.guess("Russia") is None  # one word: not sure enough


def test_candidate_languages_narrow_the_guess() -> None:
    narrow = LanguageGuesser(["ar", "en"])
    assert narrow.guess("Russia threatens to sever ties") == "en"
    assert narrow.guess("روسيا تهدد بقطع العلاقات") == "ar"


def test_a_feed_is_guessed_once_it_agrees_with_itself(guesser: LanguageGuesser) -> None:
    items = [
        "Army says rebels violated the ceasefire near the border town",
        "Minister threatens to cut diplomatic relations with the neighbour",
        "Heavy shelling reported overnight in the eastern region",
        "Talks on a humanitarian truce resume in the capital",
        "Russia",  # alone too short to guess; in an English feed it is English
        "روسيا تهدد بقطع العلاقات الدبلوماسية مع الولايات المتحدة",  # another script: guessed
    ]
    body = "".join(
        f"<item><title>{t}</title><link>https://e.example/{i}</link></item>"
        for i, t in enumerate(items)
    )
    feed = f'<rss version="2.0"><channel>{body}</channel></rss>'.encode()
    articles = with_languages(parse_document(feed, feed_url="f", source="s").articles, guesser)
    langs = [a.lang for a in articles]
    assert langs == ["en", "en", "en", "en", "en", "ar"]
    assert guesser.guess("Russia") is None
