"""The `Article` wire model: what ingest publishes on `{prefix}.articles`."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Article(BaseModel):
    """One news item, normalised from a feed entry. Keyed on Kafka by `id`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = Field(1, description="Bumped on any incompatible change.")
    id: str = Field(
        description="Stable id: hash of the canonical URL, or of the GUID when no link."
    )
    url: str = Field(description="Canonical URL of the article (tracking parameters removed).")
    title: str = Field(description="Headline as plain text.")
    text: str = Field("", description="Summary or content as plain text (HTML stripped).")
    source: str = Field(description="Human name of the feed the article came from.")
    feed_url: str = Field("", description="URL (or path) of the feed it was read from.")
    lang: str | None = Field(None, description="ISO 639-1 language code, when known.")
    published_at: datetime | None = Field(None, description="Publication time given by the feed.")
    story_id: str | None = Field(
        None, description="Story shared by copies of one event across outlets; None: its own id."
    )
    ingested_at: datetime = Field(description="When ingest emitted it: the pipeline entry time.")
