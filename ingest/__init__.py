"""Ingest: fetch feeds, parse them into `Article`s, give each a stable id.

Pure logic lives here (parsing, canonical URLs); the HTTP fetch is a small async function and the
seen-index a SQLite file. Nothing here knows about Kafka: `services.ingest_service` moves articles.
"""

from ingest.model import Article

__all__ = ["Article"]
