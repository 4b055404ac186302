"""What a subscriber reads: Telegram HTML and Slack Block Kit, in Arabic and English.

The Arabic alerts are produced by the real matcher from the fixture article, so the offsets
and matched words are exactly what detect publishes.
"""

import html
import re
import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from detect.matcher import build_matcher
from detect.model import Alert, ArticleRef, Match
from ingest.model import Article
from notify.render import (
    TELEGRAM_LIMIT,
    RenderOptions,
    cut,
    parties,
    render_slack,
    render_story_html,
    render_telegram_html,
    render_text,
    visible_length,
)
from services.config import load_watchlists, watchlist_paths
from tests.helpers import REPO, fixture_article
from tests.test_notify import tags

RIYADH = RenderOptions(tz=ZoneInfo("Asia/Riyadh"))
PUBLISHED = datetime(2020, 9, 27, 9, 30, tzinfo=UTC)


def arabic_alerts() -> list[Alert]:
    title, text = fixture_article()
    article = Article(
        id="sabq-1",
        url="https://sabq.org/world/armenia?id=1&x=<y>",
        source="سبق",
        lang="ar",
        title=title,
        text=text,
        published_at=PUBLISHED,
        ingested_at=PUBLISHED,
    )
    matcher = build_matcher(load_watchlists(watchlist_paths(["watchlists"], REPO)))
    return matcher.match(article, now=PUBLISHED)


def english_alert(title: str = "Azerbaijan says Armenia violated the ceasefire in Tartar") -> Alert:
    start = title.find("violated the ceasefire")
    return Alert(
        id="en-1",
        watchlist="conflict",
        rule="ceasefire-violation",
        event="ceasefire_violation",
        severity="high",
        article=ArticleRef(
            id="wire-1",
            url="https://wire.example/caucasus?a=1&b=2",
            title=title,
            source="Wire & Co",
            lang="en",
            published_at=PUBLISHED,
        ),
        matches=[Match(text="violated the ceasefire", field="title", start=start, end=start + 22)],
        story_id="wire-1",
        detected_at=PUBLISHED,
        ingested_at=PUBLISHED,
    )


def well_formed(message: str) -> None:
    """Only our tags, balanced; every & starts an entity; within Telegram's limit."""
    stack: list[str] = []
    for tag in tags(message):
        assert tag.strip("/") in {"b", "i", "a"}, tag
        if tag.startswith("/"):
            assert stack.pop() == tag[1:]
        else:
            stack.append(tag)
    assert not stack
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", message)
    assert visible_length(message) <= TELEGRAM_LIMIT


def test_arabic_alert_reads_right_to_left_with_its_evidence_sentences() -> None:
    alerts = arabic_alerts()
    events = {a.event for a in alerts}
    assert {"ceasefire_violation", "threat_to_cut_relations"} <= events
    message = render_story_html(alerts, RIYADH)
    well_formed(message)
    violation = next(a for a in alerts if a.event == "ceasefire_violation")
    assert re.search(
        r"<b>\[HIGH\] ceasefire_violation \d+% · conflict/ceasefire-violation</b>", message
    )
    assert f"{violation.confidence:.0%}" in message, "the classifier's confidence is shown"
    assert "\u2068سبق\u2069 · 2020-09-27 12:30 +03" in message, "local time in Riyadh"
    # the evidence sentences, isolated, with the matched phrase in bold as written
    assert "<b>بخرق الهدنة</b>" in message
    assert "<b>مهددًا بقطع العلاقات</b>" in message
    evidence = [line for line in message.splitlines() if line.startswith("«\u2068")]
    assert len(evidence) >= 2 and all(line.endswith("\u2069»") for line in evidence)
    assert "matched:" not in message, "no scattered words when the sentence is shown"
    title = message.splitlines()[len(events)]
    assert title.startswith("\u2068") and title.endswith("\u2069"), "the title is isolated"
    assert 'href="https://sabq.org/world/armenia?id=1&amp;x=&lt;y&gt;"' in message


def test_every_message_says_who_did_what_to_whom() -> None:
    violation = next(a for a in arabic_alerts() if a.event == "ceasefire_violation")
    # «اتهم ... أرمينيا، بخرق الهدنة»: Azerbaijan's aide accuses Armenia of breaking the truce
    who = "by Armenia · against Azerbaijan · says Azerbaijan"  # Tartar, in Azerbaijan, is shelled
    assert parties(violation) == who
    assert f"<i>{who}</i>" in render_telegram_html(violation)
    assert f"\n  who: {who}\n" in render_text(violation)
    _, blocks = render_slack(violation)
    assert who in blocks[-1]["elements"][0]["text"]
    shelled = next(a for a in arabic_alerts() if a.event == "shelling_or_strike")
    assert "between Armenia, Azerbaijan" in parties(shelled) or "between Azerbaijan, Armenia" in (
        parties(shelled)
    ), "they shelled each other"
    assert parties(english_alert()) == "", "no line when the sentence names no party"


def test_a_story_reported_twice_shows_each_event_once_at_its_best_confidence() -> None:
    first = english_alert().model_copy(
        update={"confidence": 0.86, "stages": ["frame", "classifier"]}
    )
    second = first.model_copy(update={"id": "en-2", "confidence": 0.9})
    message = render_story_html([first, second])
    assert message.count("ceasefire_violation") == 1
    assert "ceasefire_violation 90%" in message


def test_english_alert_highlights_the_matched_words_in_the_title() -> None:
    message = render_telegram_html(english_alert(), RenderOptions(tz=ZoneInfo("Europe/London")))
    well_formed(message)
    assert "\u2068Azerbaijan says Armenia <b>violated the ceasefire</b> in Tartar\u2069" in message
    assert "<i>\u2068Wire &amp; Co\u2069 · 2020-09-27 10:30 BST</i>" in message


def test_huge_feeds_are_cut_cleanly_within_telegrams_limit() -> None:
    long_title = "خرقت القوات الهدنة " * 800 + "violated the ceasefire"
    alert = english_alert(long_title)
    many = [
        alert.model_copy(
            update={
                "article": alert.article.model_copy(
                    update={"source": f"Outlet <{n}> " + "x" * 500, "id": f"a{n}"}
                ),
                "matches": [Match(text=f"word{n} & <{n}>" * 20, field="text", start=0, end=1)],
            }
        )
        for n in range(400)
    ]
    message = render_story_html(many)
    well_formed(message)
    assert "and 389 more · 400 outlets" in message
    assert "…" in message


def test_cut_never_separates_a_letter_from_its_diacritics() -> None:
    text = " ".join(["الهدنةُ"] * 3 + ["بَّ" * 40])  # fatha and shadda on every ba
    for limit in range(5, 60):
        out = cut(text, limit)
        assert len(out) <= limit
        body = out.removesuffix("…")
        assert text.startswith(body)
        following = text[len(body) : len(body) + 1]
        assert not following or not unicodedata.combining(following), f"limit {limit}"


def test_slack_gets_the_same_content_as_block_kit() -> None:
    fallback, blocks = render_slack(english_alert(), RIYADH)
    assert fallback.startswith("[HIGH] ceasefire_violation")
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "[HIGH] ceasefire_violation · conflict/ceasefire-violation",
        },
    }
    section = blocks[1]["text"]["text"]
    assert "*violated the ceasefire*" in section
    assert "<https://wire.example/caucasus?a=1&b=2|Read the article>" in section
    context = blocks[2]["elements"][0]["text"]
    assert "Wire &amp; Co" in context and "2020-09-27 12:30 +03" in context
    assert html.unescape(context).count("matched: *") == 1
