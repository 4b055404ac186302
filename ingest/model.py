"""The `Article` wire model: what ingest publishes on `{prefix}.articles`."""

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: C0 and C1 control characters and DEL, but not tab and newline: what a feed may carry (NUL,
#: BEL, ESC sequences) and no reader or chat should receive.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(value: str) -> str:
    """`value` without control characters other than newline and tab (a CR ends a line)."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", value)


#: Text from a feed, cleaned of control characters whenever an `Article` is built.
CleanText = Annotated[str, AfterValidator(clean_text)]


class Article(BaseModel):
    """One news item, normalised from a feed entry. Keyed on Kafka by `id`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = Field(1, description="Bumped on any incompatible change.")
    id: str = Field(
        description="Stable id: hash of the canonical URL, or of the GUID when no link."
    )
    url: str = Field(description="Canonical URL of the article (tracking parameters removed).")
    title: CleanText = Field(description="Headline as plain text, without control characters.")
    text: CleanText = Field(
        "", description="Summary or content as plain text (HTML stripped, no control characters)."
    )
    source: CleanText = Field(description="Human name of the feed the article came from.")
    feed_url: str = Field("", description="URL (or path) of the feed it was read from.")
    lang: str | None = Field(None, description="ISO 639-1 language code, when known.")
    published_at: datetime | None = Field(None, description="Publication time given by the feed.")
    story_id: str | None = Field(
        None, description="Story shared by copies of one event across outlets; None: its own id."
    )
    ingested_at: datetime = Field(description="When ingest emitted it: the pipeline entry time.")

    def with_text(self, text: str) -> "Article":
        """A copy with another `text`, validated (so cleaned) like any article."""
        return Article.model_validate({**self.model_dump(), "text": text})
