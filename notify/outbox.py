"""The outbox: every message notify owes, in SQLite, and the one place that says if it was sent.

An alert consumed from Kafka is written here once per destination (`enqueue`) before its offset
is committed; from then on the outbox, not Kafka, is responsible for it. The sender loop
(`notify.dispatch.Dispatcher`) drains it and records each outcome right after the destination
answered. A row is unique per (alert, article, destination): Kafka redelivering an alert adds
nothing, while the same story reported by another outlet is a new row.

Rows move `pending` → `sent` | `failed` and never back. `story_messages` remembers which message
tells each story in each chat, so a later alert on the story edits it instead of sending
another. A crash between a destination acknowledging a message and `mark_sent` (a few
milliseconds) is the one window where a message can go out twice; no Telegram or Slack API
offers an idempotency key that would close it.
"""

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from detect.model import Alert

State = Literal["pending", "sent", "failed"]

#: Queue priority: lower goes first. Critical alerts jump every queue.
CRITICAL, NORMAL = 0, 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id    TEXT NOT NULL,
    article_id  TEXT NOT NULL,
    story_id    TEXT NOT NULL,
    watchlist   TEXT NOT NULL,
    destination TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    alert       TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    detail      TEXT,
    message_id  TEXT,
    enqueued_at REAL NOT NULL,
    due_at      REAL,
    done_at     REAL,
    UNIQUE (alert_id, article_id, destination)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (destination, priority, seq)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_story ON outbox (destination, story_id) WHERE state = 'sent';
CREATE INDEX IF NOT EXISTS outbox_recent ON outbox (destination, watchlist, enqueued_at);
CREATE INDEX IF NOT EXISTS outbox_done ON outbox (done_at) WHERE state != 'pending';
-- The message that tells a story in a chat: later alerts on the story edit it.
CREATE TABLE IF NOT EXISTS story_messages (
    destination TEXT NOT NULL,
    story_id    TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    PRIMARY KEY (destination, story_id)
);
"""


@dataclass(frozen=True)
class Entry:
    """One message owed to one destination."""

    seq: int
    destination: str
    priority: int
    due_at: float | None = None  # held for a digest until then (epoch seconds)

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority, self.seq)


def priority_of(alert: Alert) -> int:
    return CRITICAL if alert.severity == "critical" else NORMAL


def open_db(path: Path) -> sqlite3.Connection:
    """The notify SQLite database, in WAL mode with every commit synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # a recorded send must survive a crash
    db.execute("PRAGMA busy_timeout=5000")
    return db


class Outbox:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._db.executescript(_SCHEMA)

    def enqueue(
        self,
        alert: Alert,
        destinations: Iterable[str],
        holds: Mapping[str, float | None] | None = None,
    ) -> list[Entry]:
        """Owe `alert` to each destination, in one transaction; the entries that are new.

        `holds[destination]`, when set, folds the alert into that destination's digest due then.
        """
        priority = priority_of(alert)
        payload = alert.model_dump_json()
        now = time.time()
        new: list[Entry] = []
        with self._transaction():
            for destination in destinations:
                due_at = (holds or {}).get(destination)
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO outbox (alert_id, article_id, story_id, watchlist,"
                    " destination, priority, alert, enqueued_at, due_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        alert.id,
                        alert.article.id,
                        alert.story_id,
                        alert.watchlist,
                        destination,
                        priority,
                        payload,
                        now,
                        due_at,
                    ),
                )
                if cursor.rowcount:
                    assert cursor.lastrowid is not None
                    new.append(Entry(cursor.lastrowid, destination, priority, due_at))
        return new

    def sent_alone_since(self, destination: str, watchlist: str, since: float) -> int:
        """Alerts of `watchlist` queued to go to `destination` one by one since `since`."""
        row = self._db.execute(
            "SELECT count(*) FROM outbox WHERE destination = ? AND watchlist = ?"
            " AND enqueued_at >= ? AND due_at IS NULL AND state != 'failed'",
            (destination, watchlist, since),
        )
        return int(row.fetchone()[0])

    def pending(self) -> Iterator[Entry]:
        """Every message still owed, oldest first."""
        rows = self._db.execute(
            "SELECT seq, destination, priority, due_at FROM outbox WHERE state = 'pending'"
            " ORDER BY seq"
        )
        for seq, destination, priority, due_at in rows.fetchall():
            yield Entry(seq, destination, priority, due_at)

    def alert(self, seq: int) -> Alert:
        row = self._db.execute("SELECT alert FROM outbox WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise KeyError(seq)
        return Alert.model_validate_json(row[0])

    def state(self, seq: int) -> State:
        row = self._db.execute("SELECT state FROM outbox WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise KeyError(seq)
        state: State = row[0]
        return state

    def mark_sent(self, seq: int, message_id: str | None = None, *, story: bool = True) -> None:
        """Sent (or its story's message edited to include it) as message `message_id`.

        `story=False` for a digest: its message tells many stories, so it is not edited later.
        """
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, message_id = ?,"
                " done_at = ? WHERE seq = ? AND state = 'pending'",
                (message_id, time.time(), seq),
            )
            if message_id is not None and story:
                self._db.execute(
                    "INSERT OR REPLACE INTO story_messages"
                    " SELECT destination, story_id, ? FROM outbox WHERE seq = ?",
                    (message_id, seq),
                )

    def story_message(self, destination: str, story_id: str) -> str | None:
        """The message that tells `story_id` at `destination`, if one was sent."""
        row = self._db.execute(
            "SELECT message_id FROM story_messages WHERE destination = ? AND story_id = ?",
            (destination, story_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def story_alerts(self, destination: str, story_id: str) -> list[Alert]:
        """The alerts of `story_id` already sent to `destination`, in the order they were."""
        rows = self._db.execute(
            "SELECT alert FROM outbox WHERE destination = ? AND story_id = ? AND state = 'sent'"
            " ORDER BY done_at, seq",
            (destination, story_id),
        )
        return [Alert.model_validate_json(r[0]) for r in rows.fetchall()]

    def mark_failed(self, seq: int, detail: str) -> None:
        self._db.execute(
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, detail = ?,"
            " done_at = ? WHERE seq = ? AND state = 'pending'",
            (detail, time.time(), seq),
        )

    def mark_attempt(self, seq: int, detail: str) -> None:
        """A transient failure: still pending, one more attempt on record."""
        self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, detail = ? WHERE seq = ?", (detail, seq)
        )

    def fail_destination(self, destination: str, detail: str) -> int:
        """Give up every message still owed to `destination` (its chat is gone); how many."""
        cursor = self._db.execute(
            "UPDATE outbox SET state = 'failed', detail = ?, done_at = ?"
            " WHERE destination = ? AND state = 'pending'",
            (detail, time.time(), destination),
        )
        return cursor.rowcount

    def move_destination(self, old: str, new: str) -> list[Entry]:
        """Re-address everything still owed to `old` to `new`; the entries, oldest first."""
        with self._transaction():
            self._db.execute(
                "UPDATE OR IGNORE outbox SET destination = ?"
                " WHERE destination = ? AND state = 'pending'",
                (new, old),
            )
            self._db.execute(  # what the new chat is owed already: not twice
                "UPDATE outbox SET state = 'failed', detail = ?, done_at = ?"
                " WHERE destination = ? AND state = 'pending'",
                (f"already owed to {new}", time.time(), old),
            )
        rows = self._db.execute(
            "SELECT seq, destination, priority, due_at FROM outbox"
            " WHERE destination = ? AND state = 'pending' ORDER BY seq",
            (new,),
        )
        return [Entry(*row) for row in rows.fetchall()]

    def sent(self, alert_id: str, destination: str) -> bool:
        """True if some article of this alert reached `destination`: "was it sent"."""
        row = self._db.execute(
            "SELECT 1 FROM outbox WHERE alert_id = ? AND destination = ? AND state = 'sent'",
            (alert_id, destination),
        ).fetchone()
        return row is not None

    def owed(self, destination: str) -> int:
        """Messages still pending for `destination`."""
        row = self._db.execute(
            "SELECT count(*) FROM outbox WHERE destination = ? AND state = 'pending'",
            (destination,),
        )
        return int(row.fetchone()[0])

    def prune(self, done_before: float) -> int:
        """Forget messages sent or failed before `done_before`; how many. Pending ones stay.

        A forgotten alert redelivered by Kafka would be sent again, so keep them for longer
        than the alerts topic's retention.
        """
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM outbox WHERE state != 'pending' AND done_at < ?", (done_before,)
            )
            self._db.execute(
                "DELETE FROM story_messages WHERE NOT EXISTS (SELECT 1 FROM outbox o"
                " WHERE o.destination = story_messages.destination"
                " AND o.story_id = story_messages.story_id)"
            )
        return cursor.rowcount

    def count(self, state: State) -> int:
        row = self._db.execute("SELECT count(*) FROM outbox WHERE state = ?", (state,))
        return int(row.fetchone()[0])

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
