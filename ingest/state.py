"""Ingest's durable state in one SQLite file: the seen-article index and per-feed state.

The seen-index is what keeps a restarted ingest from publishing (and so re-alerting) articles it
already published; ids are marked seen only after Kafka acknowledged them. Per feed: validators
for conditional GETs, the hash of the last body (to skip re-parsing an identical one), the error
streak and since when it fails, and when it is due next (so a restart keeps the schedule). The
journal (`ingest.journal`) holds published articles until they are known to be through.
"""

import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.fetch import Validators
from ingest.journal import JournalEntry, Position
from ingest.model import Article
from ingest.stories import StoryEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    article_id TEXT PRIMARY KEY,
    feed_url   TEXT NOT NULL,
    first_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stories (
    article_id TEXT PRIMARY KEY,
    story_id   TEXT NOT NULL,
    at         REAL NOT NULL,
    signature  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_by_time ON stories (at);
CREATE TABLE IF NOT EXISTS journal (
    article_id TEXT PRIMARY KEY,
    part       INTEGER NOT NULL,
    off        INTEGER NOT NULL,
    at         REAL NOT NULL,
    payload    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_position ON journal (part, off);
CREATE TABLE IF NOT EXISTS feed_state (
    feed_url      TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    error_streak  INTEGER NOT NULL DEFAULT 0,
    last_ok       REAL,
    last_error    TEXT
);
"""
#: Columns added after the first release, added to older files on open.
_ADDED_COLUMNS = {
    "body_hash": "TEXT",
    "first_ok": "REAL",
    "failing_since": "REAL",
    "last_attempt": "REAL",
    "next_due": "REAL",
}
_STATUS_COLUMNS = (
    "feed_url, error_streak, last_ok, last_error, failing_since, last_attempt, next_due"
)
_INDEXES = "CREATE INDEX IF NOT EXISTS seen_by_feed ON seen (feed_url, first_seen);"


#: Consecutive failures after which a feed is reported unhealthy (it keeps being polled).
UNHEALTHY_STREAK = 5
#: ... or failing without a break for this long, however few the attempts.
UNHEALTHY_AFTER_S = 86400.0


@dataclass(frozen=True)
class FeedStatus:
    """One feed's row of `feed_state`, for `mediawatch feeds status`."""

    feed_url: str
    error_streak: int
    last_ok: float | None
    last_error: str | None
    failing_since: float | None
    last_attempt: float | None
    next_due: float | None

    def health(self, now: float) -> str:
        """`ok`, `failing` (a few errors in a row) or `unhealthy` (5+ in a row, or for a day)."""
        if self.error_streak == 0:
            return "ok" if self.last_ok is not None else "pending"
        long_failing = self.failing_since is not None and now - self.failing_since > (
            UNHEALTHY_AFTER_S
        )
        return "unhealthy" if self.error_streak >= UNHEALTHY_STREAK or long_failing else "failing"


class IngestState:
    """Seen-index and feed validators; one instance per ingest process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(feed_state)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE feed_state ADD COLUMN {column} {kind}")
        self._db.executescript(_INDEXES)

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

    def mark_seen(self, ids: Iterable[str], feed_url: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._db:
            self._mark_seen(ids, feed_url, now)

    def _mark_seen(self, ids: Iterable[str], feed_url: str, now: float) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO seen (article_id, feed_url, first_seen) VALUES (?, ?, ?)",
            [(article_id, feed_url, now) for article_id in ids],
        )

    def mark_published(
        self,
        published: Iterable[tuple[Article, Position]],
        feed_url: str,
        *,
        journal: bool,
        now: float | None = None,
    ) -> None:
        """Mark articles the broker acknowledged as seen and, with `journal`, journal them (one
        transaction: a crash leaves both or neither)."""
        now = time.time() if now is None else now
        rows = list(published)
        with self._db:
            self._mark_seen((a.id for a, _ in rows), feed_url, now)
            if journal:
                self._db.executemany(
                    "INSERT OR REPLACE INTO journal (article_id, part, off, at, payload)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        (a.id, p.partition, p.offset, now, a.model_dump_json().encode())
                        for a, p in rows
                    ],
                )

    def journal(self) -> list[JournalEntry]:
        """Every journalled article not yet known to be through, oldest first."""
        rows = self._db.execute("SELECT article_id, part, off, payload FROM journal ORDER BY at")
        return [
            JournalEntry(aid, Position(part, off), bytes(data)) for aid, part, off, data in rows
        ]

    def journal_moved(self, moved: Iterable[tuple[str, Position]]) -> None:
        """Replayed entries now live at these positions."""
        with self._db:
            self._db.executemany(
                "UPDATE journal SET part = ?, off = ? WHERE article_id = ?",
                [(p.partition, p.offset, aid) for aid, p in moved],
            )

    def journal_through(self, below: Mapping[int, int]) -> int:
        """Forget entries below these offsets (per partition): they are through. How many."""
        with self._db:
            return sum(
                self._db.execute(
                    "DELETE FROM journal WHERE part = ? AND off < ?", (part, offset)
                ).rowcount
                for part, offset in below.items()
            )

    def journal_prune(self, before: float) -> int:
        """Forget entries journalled before `before`, through or not; how many."""
        with self._db:
            return self._db.execute("DELETE FROM journal WHERE at < ?", (before,)).rowcount

    def journal_size(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM journal").fetchone()[0])

    def save_stories(self, entries: Iterable[StoryEntry]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO stories (article_id, story_id, at, signature) "
                "VALUES (?, ?, ?, ?)",
                [(e.article_id, e.story_id, e.at.timestamp(), e.hashvalues) for e in entries],
            )

    def load_stories(self, since: datetime) -> list[StoryEntry]:
        """Story entries from `since` on (older ones are deleted: they can match nothing)."""
        with self._db:
            self._db.execute("DELETE FROM stories WHERE at < ?", (since.timestamp(),))
        rows = self._db.execute(
            "SELECT article_id, story_id, at, signature FROM stories ORDER BY at"
        )
        return [
            StoryEntry(article_id, story_id, datetime.fromtimestamp(at, UTC), bytes(signature))
            for article_id, story_id, at, signature in rows
        ]

    def validators(self, feed_url: str) -> Validators:
        row = self._db.execute(
            "SELECT etag, last_modified FROM feed_state WHERE feed_url = ?", (feed_url,)
        ).fetchone()
        return Validators(*row) if row else Validators()

    def record_success(
        self,
        feed_url: str,
        validators: Validators,
        body_hash: str | None = None,
        *,
        now: float | None = None,
    ) -> None:
        """A good poll: new validators, the body's hash (None on a 304 keeps the old one)."""
        now = time.time() if now is None else now
        self._db.execute(
            """INSERT INTO feed_state (feed_url, etag, last_modified, error_streak, last_ok,
                 body_hash, first_ok, last_attempt)
               VALUES (?, ?, ?, 0, ?, ?, ?, ?)
               ON CONFLICT(feed_url) DO UPDATE SET etag = excluded.etag,
                 last_modified = excluded.last_modified, error_streak = 0,
                 last_ok = excluded.last_ok, last_error = NULL, failing_since = NULL,
                 body_hash = COALESCE(excluded.body_hash, feed_state.body_hash),
                 first_ok = COALESCE(feed_state.first_ok, excluded.first_ok),
                 last_attempt = excluded.last_attempt""",
            (feed_url, validators.etag, validators.last_modified, now, body_hash, now, now),
        )

    def body_hash(self, feed_url: str) -> str | None:
        row = self._db.execute(
            "SELECT body_hash FROM feed_state WHERE feed_url = ?", (feed_url,)
        ).fetchone()
        return row[0] if row else None

    def activity(self, feed_url: str, *, now: float | None = None) -> tuple[int, int, float]:
        """New articles seen in the last day and week, and seconds watched since the first good
        poll (whose backlog does not count as new)."""
        now = time.time() if now is None else now
        row = self._db.execute(
            "SELECT first_ok FROM feed_state WHERE feed_url = ?", (feed_url,)
        ).fetchone()
        if not row or row[0] is None:
            return 0, 0, 0.0
        first_ok = float(row[0])
        day, week = self._db.execute(
            """SELECT COUNT(*) FILTER (WHERE first_seen > ?), COUNT(*) FROM seen
               WHERE feed_url = ? AND first_seen > ?""",
            (now - 86400, feed_url, max(first_ok, now - 7 * 86400)),
        ).fetchone()
        return int(day), int(week), max(0.0, now - first_ok)

    def set_next_due(self, feed_url: str, when: float) -> None:
        """Wall-clock time the feed is due next (read back on restart)."""
        self._db.execute(
            """INSERT INTO feed_state (feed_url, next_due) VALUES (?, ?)
               ON CONFLICT(feed_url) DO UPDATE SET next_due = excluded.next_due""",
            (feed_url, when),
        )

    def next_due(self) -> dict[str, float]:
        rows = self._db.execute(
            "SELECT feed_url, next_due FROM feed_state WHERE next_due IS NOT NULL"
        )
        return {url: float(due) for url, due in rows}

    def statuses(self) -> dict[str, FeedStatus]:
        """Every feed's stored state, by URL."""
        rows = self._db.execute(f"SELECT {_STATUS_COLUMNS} FROM feed_state")
        return {row[0]: FeedStatus(*row) for row in rows}

    def statuses_of(self, feed_urls: list[str]) -> dict[str, FeedStatus]:
        marks = ",".join("?" * len(feed_urls))
        rows = self._db.execute(
            f"SELECT {_STATUS_COLUMNS} FROM feed_state WHERE feed_url IN ({marks})",
            tuple(feed_urls),
        )
        return {row[0]: FeedStatus(*row) for row in rows}

    def record_failure(self, feed_url: str, error: str, *, now: float | None = None) -> int:
        """Count one more consecutive failure; returns the new streak length."""
        now = time.time() if now is None else now
        self._db.execute(
            """INSERT INTO feed_state (feed_url, error_streak, last_error, failing_since,
                 last_attempt) VALUES (?, 1, ?, ?, ?)
               ON CONFLICT(feed_url) DO UPDATE SET error_streak = error_streak + 1,
                 last_error = excluded.last_error,
                 failing_since = COALESCE(feed_state.failing_since, excluded.failing_since),
                 last_attempt = excluded.last_attempt""",
            (feed_url, error, now, now),
        )
        row = self._db.execute(
            "SELECT error_streak FROM feed_state WHERE feed_url = ?", (feed_url,)
        ).fetchone()
        return int(row[0])
