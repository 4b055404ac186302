"""The scheduler's pure decisions: adaptive intervals, server hints, backoff, heap, shards."""

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.fetch import Validators
from ingest.schedule import (
    DAY_S,
    FeedActivity,
    FeedHeap,
    HostPacer,
    SchedulePolicy,
    Shard,
    adaptive_interval,
    base_interval,
    next_delay,
    shard_of,
)
from ingest.state import IngestState

POLICY = SchedulePolicy(
    default_interval_s=300, min_interval_s=60, max_interval_s=3600, max_backoff_s=7200
)
WATCHED = 7 * DAY_S


def test_busy_feeds_are_polled_more_often_than_quiet_ones_within_bounds() -> None:
    busy = FeedActivity(new_last_day=96, new_last_week=300, observed_s=WATCHED)  # 4 an hour
    quiet = FeedActivity(new_last_day=1, new_last_week=7, observed_s=WATCHED)
    silent = FeedActivity(observed_s=WATCHED)
    firehose = FeedActivity(new_last_day=5000, new_last_week=9000, observed_s=WATCHED)
    assert adaptive_interval(busy, POLICY) == 450  # half the mean gap of 15 minutes
    assert adaptive_interval(quiet, POLICY) == 3600  # 12 h wanted, capped at the max
    assert adaptive_interval(silent, POLICY) == 3600
    assert adaptive_interval(firehose, POLICY) == 60  # floored at the min


def test_a_burst_today_tightens_the_schedule_at_once() -> None:
    """Miniflux averages over the week; breaking news must not wait for the average."""
    weekly_only = FeedActivity(new_last_day=0, new_last_week=70, observed_s=WATCHED)
    burst = FeedActivity(new_last_day=48, new_last_week=70, observed_s=WATCHED)
    assert adaptive_interval(burst, POLICY) == 900
    assert adaptive_interval(weekly_only, POLICY) == 3600  # 10 a day: 72 min wanted, capped


def test_new_feeds_use_the_default_until_watched_an_hour() -> None:
    backlog = FeedActivity(new_last_day=0, new_last_week=0, observed_s=600)
    assert adaptive_interval(backlog, POLICY) == 300
    two_hours = FeedActivity(new_last_day=4, new_last_week=4, observed_s=2 * 3600)
    assert adaptive_interval(two_hours, POLICY) == 900  # 2 per hour seen: poll every 15 min


def test_fixed_interval_wins_over_adaptive_and_server_hints_within_bounds() -> None:
    busy = FeedActivity(new_last_day=96, new_last_week=300, observed_s=WATCHED)
    assert base_interval(120, busy, POLICY) == 120
    assert base_interval(None, FeedActivity(max_age_s=900, observed_s=WATCHED), POLICY) == 3600
    assert base_interval(None, replace(busy, max_age_s=900), POLICY) == 900
    assert base_interval(None, FeedActivity(ttl_s=1200), POLICY) == 1200  # RSS <ttl>
    assert base_interval(None, FeedActivity(ttl_s=10 * DAY_S), POLICY) == 3600  # bounded
    assert base_interval(600, FeedActivity(max_age_s=30), POLICY) == 600  # never sooner
    off = SchedulePolicy(adaptive=False, default_interval_s=240)
    assert base_interval(None, busy, off) == 240


def test_failures_back_off_exponentially_with_jitter_up_to_the_ceiling() -> None:
    rng = random.Random(7)
    delays = [next_delay(300, FeedActivity(error_streak=n), POLICY, rng=rng) for n in range(8)]
    bases = [300, 600, 1200, 2400, 4800, 7200, 7200, 7200]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    assert len({round(d) for d in delays[5:]}) == 3  # jitter: not in lock-step


def test_retry_after_is_honoured_but_capped() -> None:
    rng = random.Random(1)
    asked = FeedActivity(error_streak=1, retry_after_s=5000)
    assert 5000 * 0.9 <= next_delay(300, asked, POLICY, rng=rng) <= 5000 * 1.1
    greedy = FeedActivity(error_streak=1, retry_after_s=10 * DAY_S)
    assert next_delay(300, greedy, POLICY, rng=rng) <= 7200 * 1.1


def test_heap_pops_due_feeds_in_order_and_replaces_rescheduled_ones() -> None:
    heap = FeedHeap()
    for i, due in enumerate([30, 10, 20, 40]):
        heap.schedule(f"f{i}", due)
    heap.schedule("f3", 5)  # rescheduled earlier: the old entry must not pop again
    assert heap.next_due() == 5
    assert heap.pop_due(25) == ["f3", "f1", "f2"]
    assert heap.pop_due(25) == []
    assert heap.next_due() == 30 and len(heap) == 1
    assert heap.pop_due(100, limit=5) == ["f0"]
    assert heap.next_due() is None


def test_heap_holds_ten_thousand_feeds() -> None:
    heap = FeedHeap()
    rng = random.Random(3)
    for i in range(10_000):
        heap.schedule(f"https://h{i % 700}.example/{i}", rng.uniform(0, 300))
    popped = heap.pop_due(150)
    assert 4000 < len(popped) < 6000 and len(heap) == 10_000 - len(popped)


def test_shards_partition_feeds_stably_by_host() -> None:
    urls = [f"https://news{i}.example/feed{j}.xml" for i in range(300) for j in range(3)]
    owners = [[Shard(i, 3).owns(u) for i in range(3)] for u in urls]
    assert all(sum(o) == 1 for o in owners)  # each feed polled by exactly one replica
    per_shard = Counter(shard_of(u, 3) for u in urls)
    assert all(200 <= n <= 400 for n in per_shard.values()), per_shard
    # one host's feeds stay together (per-host politeness holds across replicas)
    assert len({shard_of(f"https://news7.example/feed{j}.xml", 3) for j in range(3)}) == 1
    assert shard_of("https://NEWS7.example:443/other", 3) == shard_of("https://news7.example/", 3)
    assert Shard.parse("2/3") == Shard(2, 3)


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2", "0/0"])
def test_bad_shards(text: str) -> None:
    with pytest.raises(ValueError, match="shard"):
        Shard.parse(text)


def test_host_pacer_spaces_requests_per_host() -> None:
    pacer = HostPacer(0.5)
    assert pacer.reserve("a", 10.0) == 10.0
    assert pacer.reserve("a", 10.1) == 10.5
    assert pacer.reserve("a", 10.2) == 11.0
    assert pacer.reserve("b", 10.2) == 10.2  # other hosts are not held up
    assert pacer.next_free("a", 20.0) == 20.0


def test_activity_ignores_the_first_polls_backlog(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "s.sqlite")
    t0 = 1_800_000_000.0
    state.mark_seen([f"old{i}" for i in range(50)], "feed", now=t0)
    state.record_success("feed", Validators(), "h1", now=t0)
    state.mark_seen(["new1", "new2"], "feed", now=t0 + 3600)
    state.mark_seen(["new3"], "feed", now=t0 + 2 * DAY_S)
    assert state.activity("feed", now=t0 + 2 * DAY_S + 60) == (1, 3, 2 * DAY_S + 60)
    assert state.activity("unknown") == (0, 0, 0.0)
    assert state.body_hash("feed") == "h1"
    state.record_success("feed", Validators(), None, now=t0 + 10)  # a 304 keeps the hash
    assert state.body_hash("feed") == "h1"
    state.close()


def test_health_from_streaks_and_time(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "s.sqlite")
    t0 = 1_800_000_000.0
    state.record_success("good", Validators(), now=t0)
    state.record_failure("flaky", "HTTP 503", now=t0)
    for n in range(5):
        state.record_failure("dead", "HTTP 404", now=t0 + n)
    state.record_failure("slow-death", "timeout", now=t0 - 2 * DAY_S)
    state.record_failure("slow-death", "timeout", now=t0)
    statuses = state.statuses()
    health = {url: s.health(t0 + 60) for url, s in statuses.items()}
    assert health == {
        "good": "ok",
        "flaky": "failing",
        "dead": "unhealthy",
        "slow-death": "unhealthy",
    }
    assert statuses["slow-death"].failing_since == t0 - 2 * DAY_S
    state.record_success("dead", Validators(), now=t0 + 100)
    assert state.statuses()["dead"].health(t0 + 101) == "ok"
    state.close()


def test_old_state_files_gain_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE feed_state (feed_url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,"
        " error_streak INTEGER NOT NULL DEFAULT 0, last_ok REAL, last_error TEXT);"
        "INSERT INTO feed_state VALUES ('f', '\"e\"', NULL, 2, NULL, 'boom');"
    )
    db.commit()
    db.close()
    state = IngestState(path)
    assert state.validators("f").etag == '"e"'
    assert state.statuses()["f"].error_streak == 2
    state.set_next_due("f", 123.0)
    assert state.next_due() == {"f": 123.0}
    state.close()
