"""What notify has sent, in SQLite, so a redelivered alert is never sent to the same place twice.

An alert is recorded right after its destination acknowledged it. A crash between that
acknowledgement and the record (a few microseconds) is the one window where a duplicate is
possible; no Telegram or Slack API offers an idempotency key that would close it.
"""

import sqlite3
import time
from pathlib import Path
from typing import Literal

Outcome = Literal["sent", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id    TEXT NOT NULL,
    destination TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT,
    at          REAL NOT NULL,
    PRIMARY KEY (alert_id, destination)
);
"""


class DeliveryLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a recorded send must survive a crash
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def done(self, alert_id: str, destination: str) -> bool:
        """True if this alert was already sent (or permanently refused) at `destination`."""
        row = self._db.execute(
            "SELECT 1 FROM deliveries WHERE alert_id = ? AND destination = ?",
            (alert_id, destination),
        ).fetchone()
        return row is not None

    def record(
        self, alert_id: str, destination: str, outcome: Outcome, detail: str | None = None
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?)",
            (alert_id, destination, outcome, detail, time.time()),
        )

    def count(self, outcome: Outcome = "sent") -> int:
        row = self._db.execute("SELECT count(*) FROM deliveries WHERE outcome = ?", (outcome,))
        return int(row.fetchone()[0])
