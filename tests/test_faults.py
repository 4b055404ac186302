"""Faults injected from outside into `mediawatch run` (embedded broker, fake Bot API, fake feeds).

Each test is one guarantee of docs/guarantees.md "Guarantees" put to work: a steady stream of feed
items, each firing one rule, a fault injected while it flows, and then the count of what the
destination received against what the feed served: lost (never delivered) and duplicated
(delivered twice). The destination is the fake Bot API where Telegram is the point, the console
(the same outbox and sender loop) elsewhere. Nothing is mocked: the processes, the broker, the
HTTP servers and the SQLite files are real.
"""

import asyncio
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from services.broker import EmbeddedBroker, free_port
from services.feed_server import FeedServer
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram import FakeTelegram
from tests.helpers import REPO, eventually
from tests.running import LiveFeed, Run, item_title, on_telegram, pipeline_config, tally


async def delivered(seen: Callable[[], list[str]], live: LiveFeed, timeout: float = 40.0) -> None:
    """Until every item the feed served was delivered (then a moment for a duplicate)."""
    expected = live.count
    await eventually(
        lambda: tally(seen(), expected)[0] == 0, timeout=timeout, what=f"all {expected} items"
    )
    await asyncio.sleep(0.5)


async def published(run: Run, count: int) -> None:
    """Until ingest says the broker acknowledged `count` articles."""

    async def enough() -> bool:
        samples = await run.samples("ingest")
        return samples.get("mediawatch_ingest_articles_published_total", 0) >= count

    await eventually(enough, what=f"ingest to publish {count} articles")


@pytest.mark.parametrize("child", ["ingest", "detect", "notify"])
async def test_kill_9_of_a_child_under_a_steady_stream_is_restarted_and_loses_nothing(
    tmp_path: Path, prefix: str, feeds: FeedServer, telegram: FakeTelegram, child: str
) -> None:
    """notify's row goes to Telegram: a send in flight when it dies is the case that matters."""
    live = LiveFeed(feeds)
    live.add()
    to_telegram = telegram if child == "notify" else None
    run = await Run(pipeline_config(tmp_path, prefix, feeds, to_telegram)).start()
    seen = (lambda: on_telegram(telegram)) if to_telegram else run.on_console
    try:
        await run.ready()
        live.start(20)
        await eventually(lambda: len(seen()) >= 5, what="the stream to flow")
        run.signal(child, signal.SIGKILL)
        await run.wait_for(lambda: len(run.said(f"started {child}")) == 2, what="the restart")
        await live.finished()
        await delivered(seen, live)
    finally:
        code = await run.interrupt()
    lost, duplicated = tally(seen(), live.count)
    assert lost == 0
    # Killing notify can land between Telegram accepting a message and the outbox recording
    # it (the one window docs/guarantees.md "Both modes" names: no idempotency key closes it):
    # that message, and only it, is sent again. Killing ingest or detect duplicates nothing.
    assert duplicated <= (1 if child == "notify" else 0)
    restarts = run.said("restarting it in")
    assert len(restarts) == 1 and restarts[0]["msg"].startswith(f"{child} killed by signal 9")
    assert code == 0


async def test_ctrl_c_while_detect_stalls_waits_for_it_and_delivers_everything(
    tmp_path: Path, prefix: str, feeds: FeedServer
) -> None:
    live = LiveFeed(feeds)
    live.add()
    run = await Run(pipeline_config(tmp_path, prefix, feeds)).start()
    try:
        await run.ready()
        await eventually(lambda: len(run.on_console()) >= 1, what="the first alert")
        run.signal("detect", signal.SIGSTOP)
        live.start(6)
        await live.finished()
        await published(run, live.count)
        assert tally(run.on_console(), live.count)[0] == 6, "the articles wait in the topic"
        stopping = asyncio.create_task(run.interrupt())
        await run.wait_for(lambda: bool(run.said("waiting for detect")), what="the drain")
        run.signal("detect", signal.SIGCONT)  # the stall ends while run waits for it
        code = await stopping
    finally:
        await run.interrupt()
    assert tally(run.on_console(), live.count) == (0, 0)
    assert code == 0 and not run.said("not yet done")


async def test_kill_9_of_the_whole_tree_with_articles_in_flight_replays_them_after_restart(
    tmp_path: Path, prefix: str, feeds: FeedServer
) -> None:
    live = LiveFeed(feeds)
    live.add()
    config = pipeline_config(tmp_path, prefix, feeds)
    run = await Run(config).start()
    try:
        await run.ready()
        await eventually(lambda: len(run.on_console()) >= 1, what="the first alert")
        run.signal("detect", signal.SIGSTOP)
        live.start(5)
        await live.finished()
        await published(run, live.count)  # marked seen: ingest will not fetch them again
    finally:
        await run.kill_tree()
    assert tally(run.on_console(), live.count)[0] == 5, "in flight in a broker that is gone"
    again = await Run(config).start()  # the same storage, a new (empty) broker
    seen = lambda: run.on_console() + again.on_console()  # noqa: E731
    try:
        await again.ready()
        await delivered(seen, live)
    finally:
        code = await again.interrupt()
    assert tally(seen(), live.count) == (0, 0)
    assert again.said("publishing them again") and code == 0


async def test_kill_9_of_the_embedded_broker_restarts_it_and_everything_gets_through(
    tmp_path: Path, prefix: str, feeds: FeedServer
) -> None:
    live = LiveFeed(feeds)
    live.add()
    run = await Run(pipeline_config(tmp_path, prefix, feeds)).start()
    try:
        await run.ready()
        live.start(20)
        await eventually(lambda: len(run.on_console()) >= 5, what="the stream to flow")
        run.signal("broker", signal.SIGKILL)
        await run.ready(times=2)
        await live.finished()
        await delivered(run.on_console, live)
    finally:
        code = await run.interrupt()
    assert tally(run.on_console(), live.count) == (0, 0)
    assert run.said("the embedded broker died") and code == 0
    client_errors = [e for e in run.lines if e.get("logger", "").startswith("aiokafka")]
    assert len(client_errors) < 100, f"{len(client_errors)} client error lines"


async def test_an_external_broker_restarting_is_waited_for_and_no_feed_stops(
    tmp_path: Path, prefix: str, feeds: FeedServer
) -> None:
    """An external Kafka restarting: every connection reset, refused for three seconds, then
    back with its data (a proxy in front of a broker the test runs, which keeps its log)."""
    target = free_port()
    proxy = TcpProxy(target)
    await proxy.start()
    external = EmbeddedBroker(port=target, advertised_port=proxy.port)
    await external.start()
    live = LiveFeed(feeds)
    live.add()
    config = pipeline_config(tmp_path, prefix, feeds, kafka={"bootstrap": external.bootstrap})
    run = await Run(config).start()
    try:
        await run.ready()
        live.start(20)
        await eventually(lambda: len(run.on_console()) >= 3, what="the stream to flow")
        await proxy.cut()
        await asyncio.sleep(3)  # the stream goes on: ingest must keep polling and retry
        await proxy.restore()
        await live.finished()
        await delivered(run.on_console, live, timeout=60)
    finally:
        code = await run.interrupt()
        await external.stop()
        await proxy.stop()
    assert tally(run.on_console(), live.count) == (0, 0)
    assert not run.said("unexpected error polling feed") and code == 0, run.errors()


async def test_a_2_mb_item_is_cut_to_fit_and_its_feed_goes_on(
    tmp_path: Path, prefix: str, feeds: FeedServer
) -> None:
    live = LiveFeed(feeds)
    live.add(text="The minister spoke at length. " * 70_000)  # 2 MB of text in one item
    run = await Run(pipeline_config(tmp_path, prefix, feeds)).start()
    try:
        await run.ready()
        live.start(4)
        await live.finished()
        await delivered(run.on_console, live)
        samples = await run.samples("ingest")
    finally:
        code = await run.interrupt()
    assert tally(run.on_console(), live.count) == (0, 0)
    assert samples["mediawatch_ingest_articles_truncated_total"] == 1 and code == 0


async def test_a_watchlist_file_briefly_absent_keeps_the_rules(
    tmp_path: Path, prefix: str, feeds: FeedServer
) -> None:
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    shutil.copy(REPO / "watchlists" / "conflict.yaml", watchlists)
    live = LiveFeed(feeds)
    live.add()
    config = pipeline_config(tmp_path, prefix, feeds, watchlists=[str(watchlists)])
    run = await Run(config).start()
    try:
        await run.ready()
        live.start(12)
        await eventually(lambda: len(run.on_console()) >= 3, what="the stream to flow")
        aside = tmp_path / "conflict.yaml.saving"
        os.rename(watchlists / "conflict.yaml", aside)  # an editor saving: gone for a moment
        await run.wait_for(lambda: bool(run.said("watchlists not reloaded")), what="a refusal")
        os.rename(aside, watchlists / "conflict.yaml")
        await live.finished()
        await delivered(run.on_console, live)
        samples = await run.samples("detect")
    finally:
        code = await run.interrupt()
    assert tally(run.on_console(), live.count) == (0, 0)
    assert samples["mediawatch_detect_watchlist_reloads_total{result=error}"] >= 1
    assert samples["mediawatch_detect_rules"] > 0 and code == 0


async def test_telegram_answering_after_the_timeout_gives_at_most_one_counted_duplicate(
    tmp_path: Path, prefix: str, feeds: FeedServer, telegram: FakeTelegram
) -> None:
    telegram.slow_answers, telegram.answer_delay_s = 1, 2.5  # delivered, answered too late
    live = LiveFeed(feeds)
    live.add()
    config = pipeline_config(
        tmp_path, prefix, feeds, telegram, notify={"telegram": {"request_timeout": "1s"}}
    )
    run = await Run(config).start()
    seen = lambda: on_telegram(telegram)  # noqa: E731
    try:
        await run.ready()
        live.start(5)
        await live.finished()
        await delivered(seen, live)
        samples = await run.samples("notify")
    finally:
        code = await run.interrupt()
    lost, duplicated = tally(seen(), live.count)
    ambiguous = samples["mediawatch_notify_ambiguous_sends_total{channel=telegram}"]
    assert lost == 0 and duplicated <= 1 and ambiguous >= max(1, duplicated)
    assert code == 0


async def test_control_characters_in_a_title_never_reach_telegram(
    tmp_path: Path, prefix: str, feeds: FeedServer, telegram: FakeTelegram
) -> None:
    live = LiveFeed(feeds)
    live.add(title=item_title(0).replace("the ", "the\x00 \x07").replace("near", "\x1b[1mnear\x7f"))
    run = await Run(pipeline_config(tmp_path, prefix, feeds, telegram)).start()
    try:
        await run.ready()
        await delivered(lambda: on_telegram(telegram), live)
    finally:
        code = await run.interrupt()
    (message,) = telegram.messages
    assert not any(ch in message.text for ch in "\x00\x07\x1b\x7f")
    assert "violated the ceasefire" in message.text and "[1mnear" in message.text
    assert tally(on_telegram(telegram), live.count) == (0, 0) and code == 0


async def test_a_feed_down_shows_as_failing_with_its_next_retry_and_catches_up(
    tmp_path: Path, prefix: str, feeds: FeedServer
) -> None:
    live = LiveFeed(feeds)
    live.add()
    config = pipeline_config(tmp_path, prefix, feeds, ingest={"max_backoff": "1s"})
    run = await Run(config).start()
    try:
        await run.ready()
        await eventually(lambda: len(run.on_console()) >= 1, what="the first alert")
        feeds.status_override["live.xml"] = 503
        live.start(8)

        async def failing() -> bool:
            s = await run.samples("ingest")
            return (
                s.get("mediawatch_ingest_feeds_by_health{health=failing}", 0) == 1
                and s.get("mediawatch_ingest_next_retry_timestamp_seconds", 0) > 0
            )

        await eventually(failing, what="the feed to show as failing")
        await live.finished()
        del feeds.status_override["live.xml"]
        await delivered(run.on_console, live)

        async def recovered() -> bool:
            s = await run.samples("ingest")
            return s.get("mediawatch_ingest_feeds_by_health{health=ok}", 0) == 1

        await eventually(recovered, what="the feed to show as ok again")
    finally:
        code = await run.interrupt()
    assert tally(run.on_console(), live.count) == (0, 0) and code == 0
