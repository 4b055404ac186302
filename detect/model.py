"""The `Alert` wire model: what detect publishes on `{prefix}.alerts`."""

import hashlib
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.model import Article

Severity = Literal["low", "medium", "high", "critical"]
Field_ = Literal["title", "text"]
#: What decided an alert: a Boolean `query`, an RE2 `regex`, an event `frame`, the `classifier`.
Stage = Literal["query", "regex", "frame", "classifier"]


class Match(BaseModel):
    """One span of the article that made the rule fire."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="The matched words exactly as they appear in the article.")
    field: Field_ = Field(description="Which article field the span is in.")
    start: int = Field(ge=0, description="Offset of the first character (Python str index).")
    end: int = Field(ge=0, description="Offset one past the last character.")


class ArticleRef(BaseModel):
    """The part of the article a subscriber needs to read the alert."""

    model_config = ConfigDict(frozen=True)

    id: str
    url: str
    title: str
    source: str
    lang: str | None = None
    published_at: datetime | None = None

    @classmethod
    def of(cls, article: Article) -> "ArticleRef":
        return cls(
            id=article.id,
            url=article.url,
            title=article.title,
            source=article.source,
            lang=article.lang,
            published_at=article.published_at,
        )


class ActorRef(BaseModel):
    """A country, organisation or armed group of the evidence sentence, and its role."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="ISO 3166-1 alpha-2 code, or a gazetteer id such as UN, HAMAS.")
    kind: Literal["country", "organisation", "armed_group"]
    name: str = Field(description="English name, for messages.")
    role: Literal["actor", "target", "source", "mentioned"] = Field(
        description="actor: did it; target: it was done to; source: says so; else mentioned."
    )


class TrendPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    stories: int


class EscalationInfo(BaseModel):
    """What an escalation notice says (notify makes these; detect never does)."""

    model_config = ConfigDict(frozen=True)

    country: str
    country_name: str
    day: date
    stories: int = Field(description="Distinct stories of the event about the country that day.")
    baseline_per_day: float = Field(description="Mean daily stories over the days before.")
    p_value: float = Field(description="P(X >= stories) for X ~ Poisson(baseline).")
    history: list[TrendPoint] = Field(description="The baseline days and the day, in order.")


class Alert(BaseModel):
    """A watchlist rule fired on an article. Keyed on Kafka by `story_id`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = Field(1, description="Bumped on any incompatible change.")
    id: str = Field(description="Idempotency key: hash of watchlist, rule and story.")
    watchlist: str = Field(description="Id of the watchlist the rule belongs to.")
    rule: str = Field(description="Id of the rule that fired, unique within its watchlist.")
    event: str | None = Field(description="Event type id (e.g. ceasefire_violation) or null.")
    severity: Severity = Field(description="How urgent the rule's author judged it.")
    article: ArticleRef = Field(description="The article that matched.")
    matches: list[Match] = Field(description="Every matched span, in field and offset order.")
    confidence: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Probability that the article reports the event (1 for a query or regex).",
    )
    evidence: Match | None = Field(
        None, description="The sentence that reports the event, as a span of the article."
    )
    stages: list[Stage] = Field(
        default_factory=list, description="Which stages decided, in order (e.g. frame, classifier)."
    )
    actors: list[ActorRef] = Field(
        default_factory=list, description="Who did what to whom, read in the evidence sentence."
    )
    escalation: EscalationInfo | None = Field(
        None, description="Set on notify's escalation notices: the trend that escalated."
    )
    vector: str | None = Field(
        None,
        description="The article's title and lead embedded by the multilingual encoder (512 "
        "float16, base64): how notify recognises one story told in two languages. Only on "
        "alerts of an event type, the only ones notify links.",
    )
    story_id: str = Field(description="Story the article belongs to (the article id if alone).")
    detected_at: datetime = Field(description="When detect produced the alert.")
    ingested_at: datetime = Field(description="When the article entered the pipeline.")


def alert_id(watchlist: str, rule: str, story_id: str) -> str:
    """Deterministic alert id, so a re-processed article yields the same alert."""
    return hashlib.sha256(f"{watchlist}\x1f{rule}\x1f{story_id}".encode()).hexdigest()[:20]
