"""Alerts as text: a console block, Telegram HTML and Slack Block Kit, with the same content.

Each message carries the event and watchlist (with the classifier's confidence when it decided),
the title with the matched words highlighted, the source, the publication time in the
configured time zone, the evidence sentence from the body with its matched words highlighted
(or, for alerts without one, the words matched), who did what to whom in it (the actors and
targets of the evidence sentence), the link, and for a story told by several outlets who else
reported it.

- Everything that comes from a feed is escaped (HTML for Telegram, mrkdwn for Slack).
- Arabic (or any) text is wrapped in Unicode isolates (FSI … PDI), so it renders right to left
  beside left-to-right labels without reordering them.
- Length is bounded by construction: feed strings are cut on a word boundary *before* escaping
  and markup (so a cut never lands inside an entity or a tag, or between a letter and its
  diacritics), lists are capped with "and N more", and the result stays under Telegram's 4,096
  characters (counted, as Telegram does, in UTF-16 code units of the visible text).
"""

import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

from detect.model import Alert, Match

_FSI, _PDI = "\u2068", "\u2069"  # first-strong isolate: direction taken from the text itself
TELEGRAM_LIMIT = 4096
TITLE_CHARS = 300
SOURCE_CHARS = 80
WORD_CHARS = 80
MAX_WORDS = 12
MAX_HEADLINES = 8
MAX_OUTLETS = 10
EVIDENCE_CHARS = 300
MAX_EVIDENCE = 3
PARTY_CHARS = 200
#: How each role is named in a message; a party that is both actor and target of one sentence
#: (they shelled each other) is shown once, "between".
_ROLE_LABELS = (
    ("between", "between"),
    ("actor", "by"),
    ("target", "against"),
    ("source", "says"),
    ("mentioned", "also"),
)


@dataclass(frozen=True)
class RenderOptions:
    """How messages are rendered: the time zone of the times shown."""

    tz: tzinfo = field(default=UTC)


def cut(text: str, limit: int) -> str:
    """`text` at most `limit` characters, cut cleanly at a word boundary, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    while head and unicodedata.combining(head[-1]):  # never strip a letter of its marks
        head = head[:-1]
    if head and unicodedata.combining(text[len(head)]) and not head[-1].isspace():
        head = head[:-1]  # the letter before the marks goes with them
    return head.rstrip() + "…"


def _isolate(text: str) -> str:
    return f"{_FSI}{text}{_PDI}"


def _headline(alert: Alert) -> str:
    event = alert.event or alert.rule
    if "classifier" in alert.stages:
        event = f"{event} {alert.confidence:.0%}"
    return f"[{alert.severity.upper()}] {event} · {alert.watchlist}/{alert.rule}"


def _evidence(alerts: list[Alert], mark: tuple[str, str], escape: Any) -> list[str]:
    """The distinct evidence sentences of the body (the title is shown anyway), cut to
    length, their matched words wrapped in `mark`, escaped."""
    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    for alert in alerts:
        e = alert.evidence
        if e is None or e.field != "text" or (e.start, e.end) in seen:
            continue
        seen.add((e.start, e.end))
        spans = [
            (m.start - e.start, m.end - e.start)
            for m in alert.matches
            if m.field == "text" and e.start <= m.start and m.end <= e.end
        ]
        out.append(_marked(e.text, spans, mark, escape, EVIDENCE_CHARS))
    return out[:MAX_EVIDENCE]


def _marked(
    text: str, spans: list[tuple[int, int]], mark: tuple[str, str], escape: Any, limit: int
) -> str:
    """`text` with white space squeezed, cut to `limit`, and the (start, end) `spans` that
    survive the cut marked."""
    squeezed: list[str] = []
    kept: list[int] = []  # kept[i]: offset in `squeezed` of text[i]
    for ch in text:
        kept.append(len(squeezed))
        if ch.isspace():
            if squeezed and squeezed[-1] != " ":
                squeezed.append(" ")
        else:
            squeezed.append(ch)
    kept.append(len(squeezed))
    plain = "".join(squeezed).strip()
    lead = len("".join(squeezed)) - len("".join(squeezed).lstrip())
    shown = cut(plain, limit)
    visible = len(shown.rstrip("…")) if shown != plain else len(shown)
    pieces, at = [], 0
    for start, end in sorted(spans):
        start, end = kept[start] - lead, kept[end] - lead
        if start < at or end > visible or start < 0:
            continue
        pieces += [escape(shown[at:start]), mark[0] + escape(shown[start:end]) + mark[1]]
        at = end
    pieces.append(escape(shown[at:]))
    return "".join(pieces)


def _when(alert: Alert, tz: tzinfo) -> str:
    published = alert.article.published_at
    if published is None:
        return "time unknown"
    local = published.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def _matched(alerts: list[Alert], field_: str | None = None) -> list[str]:
    seen: list[str] = []
    for alert in alerts:
        for match in alert.matches:
            if (field_ is None or match.field == field_) and match.text not in seen:
                seen.append(match.text)
    return seen


def outlets(alerts: list[Alert]) -> list[str]:
    """The distinct sources that reported a story, in the order they did; a source writing in
    another language than the first report is named with it ("BBC (en)")."""
    first = alerts[0].article.lang if alerts else None
    seen: list[str] = []
    for alert in alerts:
        a = alert.article
        name = f"{a.source} ({a.lang})" if a.lang and first and a.lang != first else a.source
        if name not in seen:
            seen.append(name)
    return seen


def _headlines(alerts: list[Alert]) -> list[str]:
    """One line per (watchlist, rule) of the story, with its most confident report."""
    best: dict[tuple[str, str], Alert] = {}
    for alert in alerts:
        key = (alert.watchlist, alert.rule)
        if key not in best or alert.confidence > best[key].confidence:
            best[key] = alert
    return [_headline(alert) for alert in best.values()]


def _title_spans(alert: Alert, title: str) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) of the title matches that survive in `title` (maybe cut)."""
    spans: list[tuple[int, int]] = []
    for m in alert.matches:
        if m.field != "title":
            continue
        start, end = _locate(m, alert.article.title)
        if start < 0 or end > len(title) or title[start:end] != alert.article.title[start:end]:
            continue
        if all(end <= s or start >= e for s, e in spans):
            spans.append((start, end))
    return sorted(spans)


def _locate(m: Match, title: str) -> tuple[int, int]:
    if title[m.start : m.end] == m.text:
        return m.start, m.end
    found = title.find(m.text)
    return (found, found + len(m.text)) if found >= 0 else (-1, -1)


def _highlighted(alert: Alert, mark: tuple[str, str], escape: Any) -> str:
    """The title, cut to length, with its matched words wrapped in `mark`, escaped."""
    original = " ".join(alert.article.title.split())
    title = cut(original, TITLE_CHARS)
    # offsets refer to the title as published; re-find the spans on the normalised one
    probe = alert.model_copy(
        update={"article": alert.article.model_copy(update={"title": original})}
    )
    pieces, at = [], 0
    for start, end in _title_spans(probe, title.rstrip("…")):
        pieces += [escape(title[at:start]), mark[0] + escape(title[start:end]) + mark[1]]
        at = end
    pieces.append(escape(title[at:]))
    return "".join(pieces)


def parties(alert: Alert) -> str:
    """Who did what to whom, one line: "by Azerbaijan · against Armenia · says Armenia"."""
    roles: dict[str, set[str]] = {}
    for ref in alert.actors:
        roles.setdefault(ref.name, set()).add(ref.role)
    groups: dict[str, list[str]] = {}
    for name, held in roles.items():
        if {"actor", "target"} <= held:
            held = (held - {"actor", "target"}) | {"between"}
        if len(held) > 1:
            held -= {"mentioned"}
        for role in held:
            groups.setdefault(role, []).append(name)
    shown = [f"{label} {', '.join(groups[role])}" for role, label in _ROLE_LABELS if role in groups]
    return cut(" · ".join(shown), PARTY_CHARS)


def _parties_of(alerts: list[Alert]) -> str:
    return next((p for p in map(parties, alerts) if p), "")


def _capped(items: list[str], limit: int) -> tuple[list[str], int]:
    return items[:limit], max(0, len(items) - limit)


def visible_length(telegram_html: str) -> int:
    """Length of the text Telegram shows for this HTML, in UTF-16 code units (its unit)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", telegram_html))
    return len(text.encode("utf-16-le")) // 2


def render_text(alert: Alert, options: RenderOptions | None = None) -> str:
    """A readable multi-line block for the console."""
    if alert.escalation is not None:
        return render_escalation_text(alert)
    tz = (options or RenderOptions()).tz
    a = alert.article
    lines = [
        _headline(alert),
        f"  {_isolate(cut(a.title, TITLE_CHARS))}",
        f"  {cut(a.source, SOURCE_CHARS)} · {a.lang or '??'} · {_when(alert, tz)}",
    ]
    evidence = _evidence([alert], ("", ""), str)
    if evidence:
        lines += [f"  evidence: «{_isolate(e)}»" for e in evidence]
    elif alert.evidence is None or alert.evidence.field != "title":
        lines.append("  matched: " + ", ".join(f"«{_isolate(t)}»" for t in _matched([alert])))
    if who := parties(alert):
        lines.append(f"  who: {who}")
    lines.append(f"  {a.url}")
    return "\n".join(lines)


def render_story_text(alerts: list[Alert], options: RenderOptions | None = None) -> str:
    """The console's block for the latest alert of a story, saying which story it joins: the
    console cannot edit what it printed, so it prints the news and names the earlier report."""
    text = render_text(alerts[-1], options)
    sources = outlets(alerts)
    if len(alerts) > 1 and alerts[0].article.id != alerts[-1].article.id:
        first = cut(alerts[0].article.title, TITLE_CHARS // 3)
        text += f"\n  same story as «{_isolate(first)}»"
        if len(sources) > 1:
            text += f", also reported by {', '.join(sources[1:])} · {len(sources)} outlets"
    return text


def render_telegram_html(alert: Alert, options: RenderOptions | None = None) -> str:
    """Telegram HTML parse-mode message; every feed-provided string is escaped."""
    return render_story_html([alert], options)


def render_story_html(alerts: list[Alert], options: RenderOptions | None = None) -> str:
    """One Telegram message for a story: the first report, then every event and outlet since.

    Later alerts on the same story edit this message rather than sending another.
    """
    tz = (options or RenderOptions()).tz
    first = alerts[0]
    a = first.article
    esc = html.escape
    headlines, more_events = _capped(_headlines(alerts), MAX_HEADLINES)
    lines = [f"<b>{esc(h)}</b>" for h in headlines]
    if more_events:
        lines.append(f"<i>and {more_events} more events</i>")
    lines += [
        _isolate(_highlighted(first, ("<b>", "</b>"), esc)),
        f"<i>{esc(_isolate(cut(a.source, SOURCE_CHARS)))} · {esc(_when(first, tz))}</i>",
    ]
    evidence = _evidence(alerts, ("<b>", "</b>"), esc)
    lines += [f"«{_isolate(e)}»" for e in evidence]
    unexplained = [x for x in alerts if x.evidence is None]
    words, more_words = _capped(_matched(unexplained), MAX_WORDS)
    if words:
        shown = ", ".join(f"<b>{esc(_isolate(cut(t, WORD_CHARS)))}</b>" for t in words)
        lines.append(f"matched: {shown}" + (f" and {more_words} more" if more_words else ""))
    if who := _parties_of(alerts):
        lines.append(f"<i>{esc(who)}</i>")
    lines.append(f'<a href="{esc(a.url, quote=True)}">Read the article</a>')
    sources = outlets(alerts)
    if len(sources) > 1:
        others, more = _capped(sources[1:], MAX_OUTLETS)
        also = ", ".join(esc(_isolate(cut(s, SOURCE_CHARS))) for s in others)
        also += f" and {more} more" if more else ""
        lines.append(f"<i>also reported by {also} · {len(sources)} outlets</i>")
    while visible_length("\n".join(lines)) > TELEGRAM_LIMIT and len(lines) > 3:
        del lines[-3]  # bounded by construction; should ids ever be huge, shed detail lines
    return "\n".join(lines)


def render_digest_html(alerts: list[Alert], options: RenderOptions | None = None) -> str:
    """One Telegram message listing several alerts (a digest): a short line and link each."""
    tz = (options or RenderOptions()).tz
    esc = html.escape
    lines = [f"<b>Digest: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}</b>"]
    for alert in alerts:
        a = alert.article
        head = f"{alert.severity.upper()} {alert.event or alert.rule} · {alert.watchlist}"
        title = esc(_isolate(cut(a.title, 160)))
        lines.append(
            f"• <b>{esc(cut(head, 100))}</b>: "
            f'<a href="{esc(a.url, quote=True)}">{title}</a> '
            f"<i>{esc(_isolate(cut(a.source, 40)))} · {esc(_when(alert, tz))}</i>"
        )
    return "\n".join(lines)


def _mrkdwn(text: str) -> str:  # Slack mrkdwn escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(
    alert: Alert, options: RenderOptions | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and Block Kit blocks for a Slack webhook: the same content as Telegram.

    An escalation notice goes as text with the trend in block characters: an incoming webhook
    cannot upload the chart."""
    if alert.escalation is not None:
        text = render_escalation_text(alert)
        notice: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": cut(_escalation_head(alert), 150)},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _mrkdwn(text.split("\n", 1)[1])},
            },
        ]
        return text.split("\n", 1)[0], notice
    tz = (options or RenderOptions()).tz
    a = alert.article
    esc = _mrkdwn
    title = _highlighted(alert, ("*", "*"), esc)
    url = a.url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    evidence = _evidence([alert], ("*", "*"), esc)
    if evidence:
        matched = "«" + _isolate(evidence[0]) + "»"
    else:
        words, more = _capped(_matched([alert]), MAX_WORDS)
        matched = "matched: " + ", ".join(f"*{esc(_isolate(cut(t, WORD_CHARS)))}*" for t in words)
        matched += f" and {more} more" if more else ""
    if who := parties(alert):
        matched += f" · {esc(who)}"
    fallback = f"{_headline(alert)}: {cut(a.title, TITLE_CHARS)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(_headline(alert), 150)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{_isolate(title)}\n<{url}|Read the article>"},
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{esc(_isolate(cut(a.source, SOURCE_CHARS)))} · "
                    f"{_when(alert, tz)} · {matched}",
                }
            ],
        },
    ]
    return fallback, blocks


# -- escalation notices ------------------------------------------------------------------------

CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption


def _escalation_head(alert: Alert) -> str:
    e = alert.escalation
    assert e is not None
    return f"Escalation · {alert.event} · {e.country_name} ({e.country})"


def _escalation_figures(alert: Alert) -> str:
    e = alert.escalation
    assert e is not None
    days = len(e.history) - 1
    p = "p < 0.001" if e.p_value < 0.001 else f"p = {e.p_value:.3f}"
    return (
        f"{e.stories} stories on {e.day.isoformat()}, against {e.baseline_per_day:g} a day "
        f"over the {days} days before ({p})"
    )


def chart_title(alert: Alert) -> str:
    """The chart's title: event and country (no brackets: right-to-left names reorder them)."""
    e = alert.escalation
    assert e is not None
    return f"{alert.event} · {e.country_name} · {e.country}"


def render_escalation_caption(alert: Alert, options: RenderOptions | None = None) -> str:
    """The caption of an escalation chart on Telegram (HTML, within 1,024 characters)."""
    esc = html.escape
    a = alert.article
    lines = [
        f"<b>📈 {esc(_escalation_head(alert))}</b>",
        esc(_escalation_figures(alert)),
        f'latest: <a href="{esc(a.url, quote=True)}">{esc(_isolate(cut(a.title, 200)))}</a>'
        f" <i>{esc(_isolate(cut(a.source, 40)))}</i>",
    ]
    caption = "\n".join(lines)
    return caption if visible_length(caption) <= CAPTION_LIMIT else "\n".join(lines[:2])


def render_escalation_text(alert: Alert) -> str:
    """The notice for the console and Slack, the trend drawn in block characters."""
    e = alert.escalation
    assert e is not None
    from notify.charts import sparkline

    return (
        f"[ESCALATION] {_escalation_head(alert).removeprefix('Escalation · ')}\n"
        f"  {_escalation_figures(alert)}\n"
        f"  {sparkline([p.stories for p in e.history])}  (last {len(e.history)} days)\n"
        f"  latest: {_isolate(cut(alert.article.title, TITLE_CHARS))} · {alert.article.url}"
    )
