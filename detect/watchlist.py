"""Watchlist models: what analysts write in YAML, validated before any article is matched."""

from typing import Annotated, Literal

import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from detect.actors import known_entity
from detect.errors import QueryError
from detect.frames import EVENTS
from detect.model import Severity
from detect.query import countries_of, parse_query

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
MAX_QUERY_CHARS = 10_000
Confidence = Annotated[float, Field(ge=0, le=1)]


class Rule(BaseModel):
    """One thing to watch for: a `query` in the query language, an RE2 `regex`, or an event
    `frame` of the shipped pack (optionally narrowed by a `query` that must also match)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Ident
    event: Ident | None = Field(None, description="Event type id the rule detects, if any.")
    severity: Severity = "medium"
    description: str = ""
    query: Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)] | None = None
    regex: Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)] | None = None
    frame: Literal[EVENTS] | None = Field(  # type: ignore[valid-type]
        None, description="Event frame and classifier to detect (see docs/events.md)."
    )
    min_confidence: Confidence | None = Field(
        None, description="Frame rules: the classifier probability from which the rule fires."
    )

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str | None) -> str | None:
        if value is not None:
            unknown = sorted(
                code for code in countries_of(parse_query(value)) if not known_entity(code)
            )
            if unknown:
                raise QueryError(
                    f"country:{unknown[0]} is not in the gazetteer (ISO codes such as AZ, or "
                    "ids of detect/gazetteer/aliases.yaml such as HAMAS)",
                    value,
                    1,
                )
        return value

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            options = re2.Options()
            options.log_errors = False
            try:
                re2.compile(value, options)
            except re2.error as exc:
                reason = (
                    exc.args[0].decode()
                    if exc.args and isinstance(exc.args[0], bytes)
                    else str(exc)
                )
                raise QueryError(
                    f"not supported by RE2 (linear-time regex): {reason}", value, 1
                ) from exc
            if re2.compile(value, options).search("") is not None:
                raise QueryError(
                    "matches the empty string, so it would fire on everything", value, 1
                )
        return value

    @model_validator(mode="after")
    def _one_matcher(self) -> "Rule":
        if self.frame is not None:
            if self.regex is not None:
                raise ValueError("a frame rule cannot have a regex (a query may narrow it)")
            if self.event is not None and self.event != self.frame:
                raise ValueError(f"event {self.event!r} differs from frame {self.frame!r}")
        elif (self.query is None) == (self.regex is None):
            raise ValueError("give exactly one of query, regex or frame")
        if self.min_confidence is not None and self.frame is None:
            raise ValueError("min_confidence applies to frame rules only")
        return self

    @property
    def event_type(self) -> str | None:
        """The event the rule reports: its `event`, or its frame's."""
        return self.event or self.frame


class Watchlist(BaseModel):
    """A named set of rules, optionally limited to some languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Ident
    title: str
    description: str = ""
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]] | None = None
    min_confidence: Confidence | None = Field(
        None, description="Default min_confidence of this watchlist's frame rules."
    )
    rules: list[Rule] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique_rule_ids(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return rules
