"""Normalisation, the query language and the matcher, in Arabic and English."""

from datetime import UTC, datetime

import pytest

from detect.errors import QueryError
from detect.matcher import build_matcher
from detect.model import Alert
from detect.query import parse_query
from detect.terms import TermTable
from detect.watchlist import Watchlist
from ingest.model import Article
from services.config import load_watchlists, watchlist_paths
from tests.helpers import REPO, fixture_article
from text.fold import FoldedText, fold

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make_article(
    title: str, text: str = "", lang: str | None = None, id: str = "a1", source: str = "test"
) -> Article:
    return Article(
        id=id,
        url="https://x.example/1",
        title=title,
        text=text,
        source=source,
        lang=lang,
        ingested_at=NOW,
    )


def fires(query: str, title: str, text: str = "", **kw: str) -> bool:
    wl = Watchlist.model_validate({"id": "w", "title": "W", "rules": [{"id": "r", "query": query}]})
    return bool(build_matcher([wl]).match(make_article(title, text, **kw)))


def shipped() -> list[Watchlist]:
    return load_watchlists(watchlist_paths(["watchlists"], REPO))


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("الهُدْنَة", "الهدنه"),  # diacritics, ta marbuta
        ("إتفاق", "اتفاق"),  # alef with hamza below
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("الهـــدنة", "الهدنه"),  # tatweel
        ("CeaseFire", "ceasefire"),
        ("٢٠٢٠", "2020"),  # Arabic-Indic digits
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_folded_offsets_map_back_to_the_original_text() -> None:
    text = "اتهم أرمينيا بِخَرْقِ الهدنة"
    folded = FoldedText.of(text)
    start = folded.folded.index("بخرق")
    s, e = folded.original_span(start, start + len("بخرق"))
    assert text[s:e] == "بِخَرْقِ"


@pytest.mark.parametrize(
    ("query_word", "article_word", "match"),
    [
        ("هدنة", "وبالهدنة", True),
        ("هدنة", "للهدنة", True),
        ("الهدنة", "هدنة", True),
        ("هدنة", "هدنتين", True),
        ("هدنة", "الهدنات", True),
        ("قصف", "وقصفًا", True),
        ("قصف", "قصفها", True),
        ("هدنة", "مهادنة", False),
        ("violate", "violated", True),
        ("violate", "violating", True),
        ("violate", "violates", True),
        ("party", "parties", True),
        ("cut", "cutting", True),
        ("strike", "strikes", True),
        ("violate", "violation", False),
        ("truce", "truculent", False),
    ],
)
def test_bare_words_match_light_inflections(
    query_word: str, article_word: str, match: bool
) -> None:
    terms = TermTable()
    term = terms.word(query_word)
    assert (term in terms.terms_of(fold(article_word))) is match


def test_quoted_words_are_exact_but_keep_arabic_proclitics() -> None:
    assert fires('"violated"', "violated")
    assert not fires('"violate"', "violated")
    assert fires('"وقف إطلاق النار"', "دعا إلى الالتزام بوقف إطلاق النار")
    assert fires("cease-fire", "the cease fire held")  # hyphenated word = adjacent words


def test_wildcards() -> None:
    assert fires("violat*", "a violation") and fires("انتهاك*", "بانتهاكات")
    assert not fires("violat*", "violin")


@pytest.mark.parametrize(
    ("query", "title", "expected"),
    [
        ("ceasefire violated", "violated: the ceasefire", True),  # implicit AND
        ("ceasefire AND violated", "ceasefire only", False),
        ("ceasefire OR truce", "a truce", True),
        ("truce NOT football", "football truce", False),
        ("truce NOT football", "truce", True),
        ("truce OR ceasefire NOT football OR cricket", "ceasefire in cricket", False),
        ("truce OR ceasefire NOT football OR cricket", "ceasefire", True),
        ("truce AND NOT football OR cricket", "cricket", True),  # AND NOT binds tightly
        ("ceasefire NEAR/2 violated", "ceasefire was violated", True),
        ("ceasefire NEAR/2 violated", "violated, he said, the ceasefire", False),
        ("ceasefire NEAR/4 violated", "violated, he said, the ceasefire", True),  # either order
        ("violated ONEAR/3 ceasefire", "the ceasefire was violated", False),  # in order only
        ("(ceasefire OR truce) NEAR/3 (breach* OR violat*)", "truce breached", True),
        ("truce lang:en", "truce", True),
        ("truce lang:ar", "truce", False),
        ('truce source:"Wire One"', "truce", True),
    ],
)
def test_boolean_and_proximity(query: str, title: str, expected: bool) -> None:
    assert fires(query, title, lang="en", source="wire one") is expected


def test_field_scopes() -> None:
    assert fires("title:(truce)", "a truce", "nothing")
    assert not fires("title:(truce)", "nothing", "a truce")
    assert fires("text:(truce)", "nothing", "a truce")
    assert not fires("ceasefire NEAR/3 violated", "ceasefire", "violated")  # NEAR stays in a field
    assert fires("ceasefire violated", "ceasefire", "violated")  # AND spans fields


def test_regex_rules_use_re2_and_report_spans() -> None:
    wl = Watchlist.model_validate(
        {"id": "w", "title": "W", "rules": [{"id": "r", "regex": r"قصف\s+(مدفعي|صاروخي)"}]}
    )
    (alert,) = build_matcher([wl]).match(make_article("x", "تعرضت المدينة لقصف مدفعي شديد"))
    assert alert.matches[0].text == "قصف مدفعي" and alert.matches[0].field == "text"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"query": "(ceasefire OR truce"}, "'(' is never closed at column 1"),
        ({"query": "truce NEAR/0 violated"}, "NEAR/0: the distance must be 1 to 100 at column 7"),
        ({"query": "NOT truce"}, "at least one word or phrase that is not negated"),
        ({"query": "ab*"}, "a wildcard needs at least 3 letters"),
        ({"query": "truce NEAR/3 (a AND b)"}, "NEAR/3 needs words, phrases"),
        ({"query": 'truce "open'}, "phrase has no closing"),
        ({"regex": r"(\w)\1"}, "not supported by RE2"),
        ({"regex": r"(?<=a)b"}, "not supported by RE2"),
        ({"regex": "a*"}, "matches the empty string"),
        ({"query": "x", "regex": "y"}, "exactly one of query, regex or frame"),
    ],
)
def test_bad_rules_are_rejected_with_a_reason(rule: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("*", r"\*")):
        Watchlist.model_validate({"id": "w", "title": "W", "rules": [{"id": "r", **rule}]})


def test_query_errors_carry_the_column() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("truce OR (ceasefire NEAR/x violated")
    assert caught.value.column == 10


def test_evil_regex_runs_in_linear_time() -> None:
    wl = Watchlist.model_validate(
        {"id": "w", "title": "W", "rules": [{"id": "r", "regex": "(a+)+$"}]}
    )
    # backtracking engines take exponential time here; RE2 answers at once
    assert build_matcher([wl]).match(make_article("a" * 50_000 + "!")) == []


def test_fixture_article_fires_the_three_events_with_the_words_that_matched() -> None:
    title, text = fixture_article()
    alerts = build_matcher(shipped()).match(make_article(title, text, "ar"), now=NOW)
    by_event = {a.event: a for a in alerts}
    assert {"ceasefire_violation", "threat_to_cut_relations", "shelling_or_strike"} <= set(by_event)
    assert "relations_cut" not in by_event  # a threat is not a cut
    violation = by_event["ceasefire_violation"].matches[0]
    assert violation.text == "بخرق الهدنة" and violation.field == "text"
    assert text[violation.start : violation.end] == violation.text
    assert any("مهددًا بقطع العلاقات" in m.text for m in by_event["threat_to_cut_relations"].matches)


@pytest.mark.parametrize(
    ("title", "event", "expected"),
    [
        ("Rebels violated the ceasefire overnight", "ceasefire_violation", True),
        ("The ceasefire is holding, with no violations reported", "ceasefire_violation", False),
        ("Army accuses rebels of breaching the truce", "ceasefire_violation", True),
        (
            "President threatens to sever diplomatic relations with Kenya",
            "threat_to_cut_relations",
            True,
        ),
        ("President threatens to sever diplomatic relations with Kenya", "relations_cut", False),
        ("Belize severs diplomatic relations with Israel", "relations_cut", True),
        (
            "The two countries restored diplomatic relations after the embassy cut ties",
            "relations_cut",
            False,
        ),
        ("Retailer cuts ties with supplier over labour abuses", "relations_cut", False),
        ("Russian shelling kills five in Kharkiv", "shelling_or_strike", True),
        ("Investors keep shelling out for tech stocks", "shelling_or_strike", False),
        ("UN chief calls for an immediate ceasefire in Sudan", "ceasefire_call_or_agreement", True),
        ("US and China extend their trade truce", "ceasefire_call_or_agreement", False),
        ("الجيش يتهم المتمردين بخرق الهدنة", "ceasefire_violation", True),
        ("الهدنة صامدة ولم تسجل أي خروقات", "ceasefire_violation", False),
        ("الرئيس يهدد بقطع العلاقات الدبلوماسية مع فرنسا", "threat_to_cut_relations", True),
        ("الجزائر تقطع علاقاتها الدبلوماسية مع المغرب", "relations_cut", True),
        ("البلدان يعلنان استئناف العلاقات الدبلوماسية", "relations_cut", False),
        ("غارات جوية على مدينة خان يونس", "shelling_or_strike", True),
        ("المهاجم يواصل قصف جبهة الخصم", "shelling_or_strike", False),
        ("مجلس الأمن يدعو إلى وقف إطلاق النار في غزة", "ceasefire_call_or_agreement", True),
    ],
)
def test_shipped_pack_on_hard_cases(title: str, event: str, expected: bool) -> None:
    events = {a.event for a in build_matcher(shipped()).match(make_article(title))}
    assert (event in events) is expected


def test_alert_ids_are_deterministic_per_watchlist_rule_and_story() -> None:
    wl = Watchlist.model_validate(
        {"id": "w", "title": "W", "rules": [{"id": "r", "query": "truce"}]}
    )
    matcher = build_matcher([wl])
    first = matcher.match(make_article("A truce"))[0]
    again = matcher.match(make_article("A truce, again"))[0]
    other = matcher.match(make_article("A truce", id="a2"))[0]
    story = matcher.match(make_article("A truce", id="a3").model_copy(update={"story_id": "a1"}))
    assert first.id == again.id == story[0].id != other.id


def test_language_filter() -> None:
    only_ar = Watchlist.model_validate(
        {"id": "w", "title": "W", "languages": ["ar"], "rules": [{"id": "r", "query": "truce"}]}
    )
    matcher = build_matcher([only_ar])
    assert matcher.match(make_article("truce", lang="en")) == []
    assert len(matcher.match(make_article("truce", lang="ar"))) == 1
    assert len(matcher.match(make_article("truce", lang=None))) == 1  # unknown language: try


def test_alert_json_round_trips_and_rejects_garbage() -> None:
    wl = Watchlist.model_validate(
        {"id": "w", "title": "W", "rules": [{"id": "r", "query": "truce"}]}
    )
    alert = build_matcher([wl]).match(make_article("truce"))[0]
    assert Alert.model_validate_json(alert.model_dump_json()) == alert
    with pytest.raises(ValueError):
        Alert.model_validate_json(b'{"id": "x"}')


def _brute_near(left: list, right: list, distance: int, ordered: bool) -> set:
    return {
        (fa, min(a0, b0), max(a1, b1))
        for fa, a0, a1 in left
        for fb, b0, b1 in right
        if fa == fb
        and ((b0 > a1 and b0 - a1 <= distance) or (not ordered and a0 > b1 and a0 - b1 <= distance))
    }


def test_near_by_bisection_finds_exactly_the_pairs_a_full_comparison_finds() -> None:
    import random

    from detect.matcher import _minimal, _near_spans

    rng = random.Random(3)
    for _ in range(500):

        def spans() -> list[tuple[str, int, int]]:
            out = []
            for _ in range(rng.randint(0, 8)):
                start = rng.randint(0, 30)
                out.append((rng.choice(["title", "text"]), start, start + rng.randint(0, 3)))
            return out

        left, right = spans(), spans()
        distance, ordered = rng.randint(1, 6), rng.random() < 0.5
        found = _near_spans(left, right, distance, ordered)  # type: ignore[arg-type]
        assert found == _brute_near(left, right, distance, ordered)
        kept = set(_minimal(found))
        assert all(
            not (k[0] == s[0] and s[1] <= k[1] and k[2] <= s[2])
            for k in kept
            for s in kept
            if k != s
        )
        assert all(any(k[0] == s[0] and s[1] <= k[1] and k[2] <= s[2] for k in kept) for s in found)


@pytest.mark.timeout(30)
def test_a_hostile_article_repeating_the_pack_words_cannot_stall_the_matcher() -> None:
    """The words of NEAR queries and frames repeated 1,500 times (85 KB): once quadratic
    (15 s), now n log n; the pytest timeout is the hang guard, not a speed measure."""
    text = "The army violated the ceasefire with artillery shelling. " * 1500
    wl = Watchlist.model_validate(
        {"id": "w", "title": "W", "rules": [{"id": "r", "query": "ceasefire NEAR/5 violated"}]}
    )
    assert build_matcher([wl]).match(make_article("t", text, "en"))
    events = {a.event for a in build_matcher(shipped()).match(make_article("t", text, "en"))}
    assert "ceasefire_violation" in events


def test_only_alerts_of_an_event_type_carry_the_story_vector() -> None:
    """notify links alerts of one event type only, so the costly embedding is not made for the
    others (it was half of detect's time on a stream with 10,000 keyword rules)."""
    keyword = Watchlist.model_validate(
        {"id": "kw", "title": "KW", "rules": [{"id": "truce", "query": "ceasefire"},
                                              {"id": "typed", "query": "ceasefire",
                                               "event": "ceasefire_violation"}]}
    )  # fmt: skip
    title = "Army says rebels violated the ceasefire near the border"
    alerts = {a.rule: a for a in build_matcher([*shipped(), keyword]).match(make_article(title))}
    assert alerts["truce"].vector is None
    assert alerts["typed"].vector and alerts["ceasefire-violation"].vector
    assert build_matcher([keyword]).match(make_article("a ceasefire"))[0].vector is None
