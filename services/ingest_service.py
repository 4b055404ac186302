"""The ingest process: poll this replica's feeds, publish unseen articles to `{prefix}.articles`.

A composition root: the poller and the pool are `ingest.poller` and `ingest.pool`; this file
opens the state, the producer and the HTTP session, wires them, and runs the jobs (polling, the
broker probe and, with the embedded broker, the journal) as one group.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from ingest.fetch import client_session
from ingest.health import summarize
from ingest.language import LanguageGuesser
from ingest.poller import FeedPoller
from ingest.pool import run_pool
from ingest.schedule import Shard
from ingest.state import IngestState
from ingest.stories import StoryIndex
from services.config import FeedConfig, IngestConfig, LoadedConfig
from services.journal import JournalKeeper
from services.kafka import ArticlePublisher, KafkaLink, ensure_topics
from services.lifecycle import Jobs, started
from services.metrics import FeedHealthCollector, IngestMetrics, KafkaMetrics
from services.offsets import BrokerProbe, OffsetReader

log = logging.getLogger("mediawatch.ingest")


def story_index(settings: IngestConfig, state: IngestState) -> StoryIndex | None:
    """The story index (`ingest.stories`), restored from the state within its window."""
    if not settings.stories:
        return None
    window = timedelta(seconds=settings.story_window)
    index = StoryIndex(threshold=settings.story_threshold, window=window)
    index.load(state.load_stories(datetime.now(UTC) - window))
    return index


async def language_guesser(settings: IngestConfig) -> LanguageGuesser | None:
    """The guesser for feeds that declare no language (`ingest.detect_language`), loaded off
    the event loop (half a second)."""
    if not settings.detect_language:
        return None
    return await asyncio.to_thread(LanguageGuesser, settings.languages)


class IngestService:
    def __init__(self, loaded: LoadedConfig, link: KafkaLink, registry: CollectorRegistry) -> None:
        self._loaded = loaded
        self._link = link
        self._registry = registry
        self._metrics = IngestMetrics.create(registry)
        self._kafka = KafkaMetrics.create(registry)
        self._jobs: Jobs | None = None
        self._probe: BrokerProbe | None = None

    def my_feeds(self) -> list[FeedConfig]:
        """This replica's share of the configured feeds (`ingest.shard`)."""
        shard = Shard.parse(self._loaded.config.ingest.shard)
        return [feed for feed in self._loaded.config.feeds if shard.owns(feed.url)]

    def problems(self) -> list[str]:
        """Why the service cannot do its job now (empty: it can)."""
        if self._jobs is None or self._probe is None:
            return ["starting"]
        return self._jobs.problems() + self._probe.problems()

    async def run(self, stop: asyncio.Event) -> None:
        settings = self._loaded.config.ingest
        embedded = self._loaded.config.kafka.embedded
        feeds = self.my_feeds()
        if not feeds:
            log.warning("no feeds for this replica (ingest.shard %s)", settings.shard)
        self._metrics.feeds.set(len(feeds))
        urls = [f.url for f in feeds]
        state = IngestState(self._loaded.storage_dir / "ingest.sqlite")
        health = FeedHealthCollector(
            lambda now: summarize(urls, state.statuses_of(urls) if urls else {}, now),
            state.journal_size,
        )
        self._registry.register(health)
        try:
            async with (
                started(self._link.producer()) as producer,
                started(OffsetReader(self._link.bootstrap)) as reader,
                client_session(
                    allow_private_networks=settings.allow_private_networks,
                    limit=settings.concurrency,
                    limit_per_host=settings.per_host_concurrency,
                ) as session,
            ):
                topics = self._link.topics
                publish = ArticlePublisher(producer, topics.articles, self._kafka, stop)

                async def after_probe(ends: dict[int, int]) -> None:
                    if not ends:  # a broker without our topics (new, empty): create them
                        await ensure_topics(self._link)

                probe = self._probe = BrokerProbe(
                    reader, self._kafka, topics.articles, after=after_probe
                )
                poller = FeedPoller(
                    state,
                    session,
                    publish,
                    events=self._metrics.events(),
                    limits=settings.limits(),
                    stories=story_index(settings, state),
                    guesser=await language_guesser(settings),
                    max_article_bytes=settings.max_article_bytes,
                    journal=embedded,
                )
                lag = self._metrics.poll_lag.observe
                jobs = {
                    "poll feeds": lambda: run_pool(
                        feeds, poller, settings.pool(), stop, poll_lag=lag
                    ),
                    "probe broker": lambda: probe.run(stop),
                }
                if embedded:
                    keeper = JournalKeeper(
                        state,
                        reader,
                        publish,
                        topics,
                        self._link.groups,
                        self._metrics,
                        retention_s=settings.journal_retention,
                    )
                    await keeper.replay()
                    jobs["track journal"] = lambda: keeper.run(stop)
                self._jobs = Jobs(stop)
                await self._jobs.run(jobs)
        finally:
            self._jobs = None
            self._registry.unregister(health)
            state.close()
