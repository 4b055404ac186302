"""Who gets which alerts on Telegram: chats and their watchlist subscriptions, in SQLite.

A subscription may name countries (`/subscribe conflict AZ`): the chat then gets that
watchlist's alerts only when they name one of them as actor, target or source.

Chats configured in YAML are seeded at start (`seed`); the bot adds and removes the rest. A chat
whose bot was blocked or kicked (403) is deactivated and receives nothing until it comes back
(`/start` in it, or an operator re-seeding it with `reactivate=True`).
"""

import sqlite3
import time

#: Subscribes to every watchlist.
ALL = "*"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    chat_id     TEXT PRIMARY KEY,
    active      INTEGER NOT NULL DEFAULT 1,
    reason      TEXT,
    muted_until REAL,
    digest      TEXT NOT NULL DEFAULT 'off',
    updated_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    chat_id    TEXT NOT NULL,
    watchlist  TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (chat_id, watchlist)
);
"""


class Subscriptions:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(subscriptions)")}
        if "countries" not in columns:  # a store made before country filters: all countries
            self._db.execute(
                "ALTER TABLE subscriptions ADD COLUMN countries TEXT NOT NULL DEFAULT ''"
            )

    def seed(self, chat_id: int | str, watchlists: list[str]) -> None:
        """A configured chat: add it and its watchlists (none: all) if not there yet.

        A chat that was deactivated (the bot was blocked) stays deactivated.
        """
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT OR IGNORE INTO chats (chat_id, updated_at) VALUES (?, ?)",
                (str(chat_id), now),
            )
            for watchlist in watchlists or [ALL]:
                self._db.execute(
                    "INSERT OR IGNORE INTO subscriptions (chat_id, watchlist, source,"
                    " created_at) VALUES (?, ?, 'config', ?)",
                    (str(chat_id), watchlist, now),
                )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def subscribe(
        self, chat_id: int | str, watchlist: str, countries: frozenset[str] = frozenset()
    ) -> bool:
        """Subscribe (activating the chat), to the watchlist's alerts about `countries` (none:
        all); False if it already was, just so."""
        now = time.time()
        self.activate(chat_id)
        wanted = ",".join(sorted(countries))
        row = self._db.execute(
            "SELECT countries FROM subscriptions WHERE chat_id = ? AND watchlist = ?",
            (str(chat_id), watchlist),
        ).fetchone()
        if row is not None:
            if row[0] == wanted:
                return False
            self._db.execute(
                "UPDATE subscriptions SET countries = ? WHERE chat_id = ? AND watchlist = ?",
                (wanted, str(chat_id), watchlist),
            )
            return True
        self._db.execute(
            "INSERT INTO subscriptions (chat_id, watchlist, source, created_at, countries)"
            " VALUES (?, ?, 'bot', ?, ?)",
            (str(chat_id), watchlist, now, wanted),
        )
        return True

    def unsubscribe(self, chat_id: int | str, watchlist: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM subscriptions WHERE chat_id = ? AND watchlist = ?",
            (str(chat_id), watchlist),
        )
        return cursor.rowcount > 0

    def activate(self, chat_id: int | str) -> None:
        self._db.execute(
            "INSERT INTO chats (chat_id, updated_at) VALUES (?, ?) ON CONFLICT (chat_id)"
            " DO UPDATE SET active = 1, reason = NULL, updated_at = excluded.updated_at",
            (str(chat_id), time.time()),
        )

    def deactivate(self, chat_id: int | str, reason: str) -> bool:
        """Stop sending to this chat; False if it was not active."""
        cursor = self._db.execute(
            "UPDATE chats SET active = 0, reason = ?, updated_at = ? WHERE chat_id = ? AND active",
            (reason, time.time(), str(chat_id)),
        )
        return cursor.rowcount > 0

    def active(self, chat_id: int | str) -> bool:
        row = self._db.execute(
            "SELECT active FROM chats WHERE chat_id = ?", (str(chat_id),)
        ).fetchone()
        return bool(row and row[0])

    def chats_for(self, watchlist: str, countries: frozenset[str] = frozenset()) -> list[str]:
        """Active chats subscribed to `watchlist` (or to all) whose country filter, if any,
        meets `countries` (the alert's), in a stable order."""
        rows = self._db.execute(
            "SELECT s.chat_id, s.countries FROM subscriptions s JOIN chats c USING (chat_id)"
            " WHERE c.active AND s.watchlist IN (?, ?) ORDER BY s.chat_id",
            (watchlist, ALL),
        )
        chats: list[str] = []
        for chat, wanted in rows.fetchall():
            if (not wanted or countries & set(wanted.split(","))) and chat not in chats:
                chats.append(chat)
        return chats

    def countries_of(self, chat_id: int | str) -> dict[str, list[str]]:
        """Watchlist → the countries this chat follows in it (empty: all)."""
        rows = self._db.execute(
            "SELECT watchlist, countries FROM subscriptions WHERE chat_id = ? ORDER BY watchlist",
            (str(chat_id),),
        )
        return {w: c.split(",") if c else [] for w, c in rows.fetchall()}

    def watchlists_of(self, chat_id: int | str) -> list[str]:
        rows = self._db.execute(
            "SELECT watchlist FROM subscriptions WHERE chat_id = ? ORDER BY watchlist",
            (str(chat_id),),
        )
        return [r[0] for r in rows.fetchall()]

    def mute(self, chat_id: int | str, until: float | None) -> None:
        """Deliver silently (no sound or badge) until `until` (epoch seconds); None unmutes."""
        self.activate(chat_id)
        self._db.execute(
            "UPDATE chats SET muted_until = ? WHERE chat_id = ?", (until, str(chat_id))
        )

    def muted_until(self, chat_id: int | str, now: float | None = None) -> float | None:
        row = self._db.execute(
            "SELECT muted_until FROM chats WHERE chat_id = ?", (str(chat_id),)
        ).fetchone()
        until = row[0] if row else None
        return until if until is not None and until > (now or time.time()) else None

    def set_digest(self, chat_id: int | str, interval: str) -> None:
        self.activate(chat_id)
        self._db.execute("UPDATE chats SET digest = ? WHERE chat_id = ?", (interval, str(chat_id)))

    def digest(self, chat_id: int | str) -> str:
        row = self._db.execute(
            "SELECT digest FROM chats WHERE chat_id = ?", (str(chat_id),)
        ).fetchone()
        return str(row[0]) if row else "off"

    def known(self, chat_id: int | str) -> bool:
        row = self._db.execute("SELECT 1 FROM chats WHERE chat_id = ?", (str(chat_id),))
        return row.fetchone() is not None

    def move(self, old: int | str, new: int | str) -> None:
        """The chat has a new id (a group became a supergroup): it keeps its settings."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "UPDATE OR IGNORE chats SET chat_id = ? WHERE chat_id = ?", (str(new), str(old))
            )
            self._db.execute(
                "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?",
                (str(new), str(old)),
            )
            self._db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (str(old),))
            self._db.execute("DELETE FROM chats WHERE chat_id = ?", (str(old),))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
