"""Watchlist hot reload: new rules when the files change, the old ones whenever that goes wrong.

The watchlists are compiled anew (off the event loop) when their fingerprint (paths, mtimes,
sizes) changes and has then held still for `settle_s`: an editor that saves by writing a new
file and renaming it leaves the old one absent for an instant, and a half-written file is not
worth compiling. The old rules stay, with an error logged and counted, when the new set does not
load, or is empty: no watchlist file found, or none with a rule (as at start-up, where that
stops the service). A change never loses the articles matched meanwhile: the swap happens
between two articles.
"""

import asyncio
import contextlib
import logging

from detect.matcher import build_matcher
from detect.watchlist import Watchlist
from services.config import WatchlistFiles
from services.metrics import DetectMetrics
from services.yamlfile import ConfigError

log = logging.getLogger("mediawatch.detect")


class WatchlistReloader:
    """Holds the current matcher; `run` swaps in a new one when the files change."""

    def __init__(
        self,
        files: WatchlistFiles,
        loaded: list[Watchlist],
        metrics: DetectMetrics,
        *,
        interval_s: float = 5.0,
        settle_s: float = 0.5,
    ) -> None:
        self._files = files
        self._metrics = metrics
        self._interval_s = interval_s
        self._settle_s = min(settle_s, interval_s)
        self._fingerprint = files.fingerprint()
        self.matcher = build_matcher(loaded)
        metrics.rules.set(self.matcher.rule_count)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)
            if stop.is_set():
                return
            fingerprint = await asyncio.to_thread(self._files.fingerprint)
            if fingerprint == self._fingerprint:
                continue
            await asyncio.sleep(self._settle_s)  # let a save in progress finish
            settled = await asyncio.to_thread(self._files.fingerprint)
            if settled != fingerprint:
                continue  # still changing: look again at the next interval
            self._fingerprint = settled
            await self.reload()

    async def reload(self) -> None:
        """Load and compile the watchlists off the event loop; keep the old rules on error."""
        try:
            matcher = await asyncio.to_thread(lambda: build_matcher(self._files.load()))
        except ConfigError as exc:
            return self._refused(f"\n{exc}")
        if matcher.rule_count == 0:
            return self._refused(
                f": no rules in {', '.join(self._files.patterns)} (file absent or emptied?)"
            )
        self.matcher = matcher
        self._metrics.rules.set(matcher.rule_count)
        self._metrics.reloads.labels("ok").inc()
        log.info("watchlists reloaded", extra={"rules": matcher.rule_count})

    def _refused(self, why: str) -> None:
        self._metrics.reloads.labels("error").inc()
        log.error(
            "watchlists not reloaded, keeping the previous %d rules%s",
            self.matcher.rule_count,
            why,
        )
