"""Watchlist models: what analysts write in YAML, validated before any article is matched."""

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from detect.model import Field_, Severity
from detect.normalize import term_tokens

ALL_FIELDS: tuple[Field_, ...] = ("title", "text")

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


def _check_terms(terms: list[str]) -> list[str]:
    for term in terms:
        if not term_tokens(term):
            raise ValueError(f"keyword {term!r} has no letters or digits to match")
    return terms


class Rule(BaseModel):
    """One thing to watch for: any of `keywords`, unless one of `exclude` is also present."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Ident
    event: Ident | None = Field(None, description="Event type id the rule detects, if any.")
    severity: Severity = "medium"
    keywords: list[str] = Field(min_length=1, description="Words or phrases; any one fires.")
    exclude: list[str] = Field(default_factory=list, description="Any one of these vetoes.")
    fields: list[Field_] = Field(default_factory=lambda: list(ALL_FIELDS))

    _keywords_have_words = field_validator("keywords", "exclude")(_check_terms)


class Watchlist(BaseModel):
    """A named set of rules, optionally limited to some languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Ident
    title: str
    description: str = ""
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]] | None = None
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> "Watchlist":
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self
