"""Alerts as text: a console block, Telegram HTML and Slack Block Kit.

Everything that comes from a feed is escaped; Arabic lines are wrapped in Unicode isolates so
they render right to left beside left-to-right labels without reordering them.
"""

import html
from typing import Any

from detect.model import Alert

_FSI, _PDI = "\u2068", "\u2069"  # first-strong isolate: direction taken from the text itself
SNIPPET_CHARS = 80


def _isolate(text: str) -> str:
    return f"{_FSI}{text}{_PDI}"


def _headline(alert: Alert) -> str:
    event = alert.event or alert.rule
    return f"[{alert.severity.upper()}] {event} · {alert.watchlist}/{alert.rule}"


def _when(alert: Alert) -> str:
    published = alert.article.published_at
    return published.strftime("%Y-%m-%d %H:%M UTC") if published else "time unknown"


def _matched(alert: Alert) -> list[str]:
    seen: list[str] = []
    for match in alert.matches:
        if match.text not in seen:
            seen.append(match.text)
    return seen


def render_text(alert: Alert) -> str:
    """A readable multi-line block for the console."""
    a = alert.article
    lines = [
        _headline(alert),
        f"  {_isolate(a.title)}",
        f"  {a.source} · {a.lang or '??'} · {_when(alert)}",
        "  matched: " + ", ".join(f"«{_isolate(t)}»" for t in _matched(alert)),
        f"  {a.url}",
    ]
    return "\n".join(lines)


def render_telegram_html(alert: Alert) -> str:
    """Telegram HTML parse-mode message; every feed-provided string is escaped."""
    return render_story_html([alert])


def outlets(alerts: list[Alert]) -> list[str]:
    """The distinct sources that reported a story, in the order they did."""
    seen: list[str] = []
    for alert in alerts:
        if alert.article.source not in seen:
            seen.append(alert.article.source)
    return seen


def render_story_html(alerts: list[Alert]) -> str:
    """One Telegram message for a story: the first report, then every event and outlet since.

    Later alerts on the same story edit this message rather than sending another.
    """
    first = alerts[0]
    a = first.article
    esc = html.escape
    lines = [f"<b>{esc(_headline(first))}</b>"]
    for alert in alerts[1:]:
        headline = _headline(alert)
        if f"<b>{esc(headline)}</b>" not in lines:
            lines.append(f"<b>{esc(headline)}</b>")
    words: list[str] = []
    for alert in alerts:
        words += [t for t in _matched(alert) if t not in words]
    matched = ", ".join(f"<b>{esc(_isolate(t))}</b>" for t in words)
    lines += [
        esc(_isolate(a.title)),
        f"<i>{esc(a.source)} · {esc(_when(first))}</i>",
        f"matched: {matched}",
        f'<a href="{esc(a.url, quote=True)}">Read the article</a>',
    ]
    sources = outlets(alerts)
    if len(sources) > 1:
        also = ", ".join(esc(_isolate(s)) for s in sources[1:])
        lines.append(f"<i>also reported by {also} · {len(sources)} outlets</i>")
    return "\n".join(lines)


def render_slack(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and Block Kit blocks for a Slack webhook."""
    a = alert.article

    def esc(text: str) -> str:  # Slack mrkdwn escaping
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    matched = ", ".join(f"*{esc(t)}*" for t in _matched(alert))
    fallback = f"{_headline(alert)}: {a.title}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{esc(_headline(alert))}*\n<{a.url}|{esc(a.title)}>",
            },
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"{esc(a.source)} · {_when(alert)} · matched: {matched}"}
            ],
        },
    ]
    return fallback, blocks
