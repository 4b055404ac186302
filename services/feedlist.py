"""The config's feed list through OPML: what `feeds export` writes and `feeds import` prints.

Every field of `FeedConfig` survives `feeds export | feeds import`. An outline that cannot be a
feed (not http or https) is skipped, and one with a bad optional field keeps its feed without
that field; either way a sentence naming the outline says what happened and why.
"""

from typing import Any

from pydantic import ValidationError

from ingest.opml import OpmlFeed
from services.config import FeedConfig, format_duration

#: Why an outline's value was left out, per config field.
_LEFT_OUT = {
    "lang": "its language {value!r} is not a two-letter code such as en or ar",
    "interval": "its interval {value!r} is not a duration such as 90s, 5m or 1h",
    "full_text": "full text needs the fulltext extra (pip install 'mediawatch[fulltext]')",
}


def to_outline(feed: FeedConfig) -> OpmlFeed:
    """The OPML outline of a configured feed."""
    interval = format_duration(feed.interval) if feed.interval is not None else None
    return OpmlFeed(feed.url, feed.name, feed.lang, interval, feed.full_text)


def to_entry(feed: OpmlFeed) -> tuple[dict[str, Any] | None, list[str]]:
    """The `feeds:` entry for an outline (None: skipped), and sentences saying what was skipped
    or left out, and why."""
    entry: dict[str, Any] = {"url": feed.url}
    if feed.title:
        entry["name"] = feed.title[:200]
    if feed.lang:
        entry["lang"] = feed.lang
    if feed.interval:
        entry["interval"] = feed.interval
    if feed.full_text:
        entry["full_text"] = True
    try:
        FeedConfig.model_validate(entry)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): str(e["msg"]) for e in exc.errors(include_url=False)}
    else:
        return entry, []
    label = f"{feed.title!r} ({feed.url})" if feed.title else feed.url
    if "url" in errors:
        return None, [f"skipped {label}: it is not an http or https URL"]
    notes = [_left_out(label, name, entry.get(name), msg) for name, msg in errors.items()]
    return {k: v for k, v in entry.items() if k not in errors}, notes


def _left_out(label: str, name: str, value: Any, msg: str) -> str:
    known = _LEFT_OUT.get(name)
    why = known.format(value=value) if known else f"its {name} {value!r}: {msg}"
    return f"{label}: {why}, so it is left out"
