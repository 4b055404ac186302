"""The broker side of ingest's journal (`ingest.journal`): replay what was lost, learn what is
through. Only with the embedded broker, whose log does not outlive it.

- `replay()` at start, before polling: every journalled article whose offset lies beyond the end
  of its partition is published again (the broker that held it is gone) and its new position
  recorded.
- `run()` every `interval_s`: takes a `Checkpoint` (detect's committed offsets on the articles
  topic, then the alerts topic's end offsets), and once notify's committed offsets have reached
  those ends forgets every article below the checkpoint (it is in notify's outbox). Entries
  older than the retention are forgotten too, with a warning: they were never confirmed.
"""

import asyncio
import contextlib
import logging
import time

from aiokafka.errors import KafkaError

from ingest.journal import Checkpoint, lost
from ingest.model import Article
from ingest.poller import Publish
from ingest.state import IngestState
from services.kafka import Groups, Topics
from services.metrics import IngestMetrics
from services.offsets import OffsetReader

log = logging.getLogger("mediawatch.ingest")

REPLAY_BATCH = 200


class JournalKeeper:
    def __init__(
        self,
        state: IngestState,
        reader: OffsetReader,
        publish: Publish,
        topics: Topics,
        groups: Groups,
        metrics: IngestMetrics,
        *,
        retention_s: float,
        interval_s: float = 2.0,
    ) -> None:
        self._state = state
        self._reader = reader
        self._publish = publish
        self._topics = topics
        self._groups = groups
        self._metrics = metrics
        self._retention_s = retention_s
        self._interval_s = interval_s

    async def replay(self) -> int:
        """Publish again what the broker no longer has; how many articles."""
        entries = self._state.journal()
        if not entries:
            return 0
        gone = lost(entries, await self._reader.end_offsets(self._topics.articles))
        if not gone:
            return 0
        log.warning(
            "the broker no longer has %d published articles not known to be through "
            "(a new embedded broker): publishing them again",
            len(gone),
        )
        for start in range(0, len(gone), REPLAY_BATCH):
            chunk = gone[start : start + REPLAY_BATCH]
            articles = [Article.model_validate_json(e.payload) for e in chunk]
            positions = await self._publish(articles)
            self._state.journal_moved(
                (e.article_id, p) for e, p in zip(chunk, positions, strict=True)
            )
            self._metrics.replayed.inc(len(chunk))
        return len(gone)

    async def run(self, stop: asyncio.Event) -> None:
        checkpoint: Checkpoint | None = None
        while not stop.is_set():
            try:
                checkpoint = await self._advance(checkpoint)
            except (KafkaError, OSError, TimeoutError) as exc:  # the probe reports the broker
                log.debug("journal not advanced: %s", exc)
                checkpoint = None
            forgotten = self._state.journal_prune(time.time() - self._retention_s)
            if forgotten:
                log.warning(
                    "forgot %d journalled articles older than %.0fs never confirmed through",
                    forgotten,
                    self._retention_s,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)

    async def _advance(self, checkpoint: Checkpoint | None) -> Checkpoint | None:
        """Take a checkpoint if there is none; forget what it proves through; the one left."""
        if checkpoint is None:
            detect = await self._reader.committed(self._groups.detect, self._topics.articles)
            alerts_end = await self._reader.end_offsets(self._topics.alerts)
            checkpoint = Checkpoint(detect, alerts_end)
        notify = await self._reader.committed(self._groups.notify, self._topics.alerts)
        through = checkpoint.through(notify)
        if through is None:
            return checkpoint
        self._state.journal_through(through)
        return None
