"""Ingest's durable state in one SQLite file: the seen-article index and per-feed validators.

The seen-index is what keeps a restarted ingest from publishing (and so re-alerting) articles it
already published; ids are marked seen only after Kafka acknowledged them.
"""

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from ingest.fetch import Validators

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    article_id TEXT PRIMARY KEY,
    feed_url   TEXT NOT NULL,
    first_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_state (
    feed_url      TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    error_streak  INTEGER NOT NULL DEFAULT 0,
    last_ok       REAL,
    last_error    TEXT
);
"""


class IngestState:
    """Seen-index and feed validators; one instance per ingest process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def unseen(self, ids: Iterable[str]) -> set[str]:
        """The subset of `ids` never marked seen."""
        wanted = set(ids)
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT article_id FROM seen WHERE article_id IN ({marks})", tuple(wanted)
        )
        return wanted - {row[0] for row in rows}

    def mark_seen(self, ids: Iterable[str], feed_url: str) -> None:
        now = time.time()
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO seen (article_id, feed_url, first_seen) VALUES (?, ?, ?)",
                [(article_id, feed_url, now) for article_id in ids],
            )

    def validators(self, feed_url: str) -> Validators:
        row = self._db.execute(
            "SELECT etag, last_modified FROM feed_state WHERE feed_url = ?", (feed_url,)
        ).fetchone()
        return Validators(*row) if row else Validators()

    def record_success(self, feed_url: str, validators: Validators) -> None:
        self._db.execute(
            """INSERT INTO feed_state (feed_url, etag, last_modified, error_streak, last_ok)
               VALUES (?, ?, ?, 0, ?)
               ON CONFLICT(feed_url) DO UPDATE SET etag = excluded.etag,
                 last_modified = excluded.last_modified, error_streak = 0,
                 last_ok = excluded.last_ok, last_error = NULL""",
            (feed_url, validators.etag, validators.last_modified, time.time()),
        )

    def record_failure(self, feed_url: str, error: str) -> int:
        """Count one more consecutive failure; returns the new streak length."""
        self._db.execute(
            """INSERT INTO feed_state (feed_url, error_streak, last_error) VALUES (?, 1, ?)
               ON CONFLICT(feed_url) DO UPDATE SET error_streak = error_streak + 1,
                 last_error = excluded.last_error""",
            (feed_url, error),
        )
        row = self._db.execute(
            "SELECT error_streak FROM feed_state WHERE feed_url = ?", (feed_url,)
        ).fetchone()
        return int(row[0])
