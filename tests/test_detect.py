"""Normalisation and keyword matching, in Arabic and English."""

from datetime import UTC, datetime

import pytest

from detect.matcher import build_matcher
from detect.normalize import fold, term_tokens, text_forms, tokenize
from detect.watchlist import Watchlist
from ingest.model import Article
from services.config import load_watchlists, watchlist_paths
from tests.helpers import REPO, fixture_article

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make_article(title: str, text: str = "", lang: str | None = None, id: str = "a1") -> Article:
    return Article(
        id=id,
        url="https://x.example/1",
        title=title,
        text=text,
        source="test",
        lang=lang,
        ingested_at=NOW,
    )


def watchlist(**rule: object) -> Watchlist:
    return Watchlist.model_validate({"id": "w", "title": "W", "rules": [{"id": "r", **rule}]})


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("الهُدْنَة", "الهدنه"),  # diacritics, ta marbuta
        ("إتفاق", "اتفاق"),  # alef with hamza below
        ("أعلنت", "اعلنت"),
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("الهـــدنة", "الهدنه"),  # tatweel
        ("CeaseFire", "ceasefire"),
        ("٢٠٢٠", "2020"),  # Arabic-Indic digits
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    "word", ["وبالهدنة", "بالهدنة", "للهدنة", "فالهدنة", "والهدنة", "هدنة", "الهدنة", "كالهدنة"]
)
def test_proclitics_are_stripped_from_text_words(word: str) -> None:
    assert term_tokens("هدنة")[0] in text_forms(word)
    assert term_tokens("الهدنة")[0] in text_forms(word)


def test_short_words_are_not_stripped_to_nothing() -> None:
    assert text_forms("وقف") == {"وقف", "قف"}  # و could be a conjunction: both forms kept
    assert "ل" not in text_forms("بل")


def test_tokens_keep_offsets_into_the_original_text() -> None:
    text = "اتهم أرمينيا بِخَرْقِ الهدنة"
    tokens = tokenize(text)
    assert [text[t.start : t.end] for t in tokens] == ["اتهم", "أرمينيا", "بِخَرْقِ", "الهدنة"]


def test_fixture_article_fires_both_events_with_the_words_that_matched() -> None:
    wls = load_watchlists(watchlist_paths(["watchlists"], REPO))
    title, text = fixture_article()
    alerts = build_matcher(wls).match(make_article(title, text, "ar"), now=NOW)
    by_event = {a.event: a for a in alerts}
    assert {"ceasefire_violation", "threat_to_cut_relations", "shelling_or_strike"} <= set(by_event)
    assert "relations_cut" not in by_event  # a threat is not a cut
    violation = by_event["ceasefire_violation"].matches[0]
    assert violation.text == "بخرق الهدنة" and violation.field == "text"
    assert text[violation.start : violation.end] == violation.text
    assert by_event["threat_to_cut_relations"].matches[0].text == "مهددًا بقطع العلاقات"
    assert all(a.article.id == "a1" and a.story_id == "a1" for a in alerts)


@pytest.mark.parametrize(
    ("title", "fires"),
    [
        ("Rebels violated the ceasefire overnight", True),
        ("VIOLATED THE CEASEFIRE, says army", True),
        ("The ceasefire is holding, no ceasefire violations reported", False),  # exclude vetoes
        ("Ceasefire holds in the north", False),
        ("The violated ceasefire", False),  # phrase words must be in order
    ],
)
def test_english_phrases(title: str, fires: bool) -> None:
    wls = load_watchlists(watchlist_paths(["watchlists"], REPO))
    events = {a.event for a in build_matcher(wls).match(make_article(title, lang="en"))}
    assert ("ceasefire_violation" in events) is fires


def test_alert_ids_are_deterministic_per_watchlist_rule_and_story() -> None:
    matcher = build_matcher([watchlist(keywords=["truce"])])
    first = matcher.match(make_article("A truce"))[0]
    again = matcher.match(make_article("A truce, again"))[0]
    other = matcher.match(make_article("A truce", id="a2"))[0]
    assert first.id == again.id != other.id


def test_language_filter_and_fields() -> None:
    only_ar = Watchlist.model_validate(
        {
            "id": "w",
            "title": "W",
            "languages": ["ar"],
            "rules": [{"id": "r", "keywords": ["truce"], "fields": ["title"]}],
        }
    )
    matcher = build_matcher([only_ar])
    assert matcher.match(make_article("truce", lang="en")) == []
    assert len(matcher.match(make_article("truce", lang="ar"))) == 1
    assert len(matcher.match(make_article("truce", lang=None))) == 1  # unknown language: try
    assert matcher.match(make_article("nothing", "truce", lang="ar")) == []  # title only


def test_alert_json_round_trips_and_rejects_garbage() -> None:
    from detect.model import Alert

    alert = build_matcher(
        [watchlist(keywords=["truce"], event="ceasefire_call_or_agreement")]
    ).match(make_article("truce"))[0]
    assert Alert.model_validate_json(alert.model_dump_json()) == alert
    with pytest.raises(ValueError):
        Alert.model_validate_json(b'{"id": "x"}')
