"""The whole pipeline as separate processes on the real broker, fed by a real HTTP feed server."""

import json
import re
from pathlib import Path

from services.broker import EmbeddedBroker
from services.feed_server import FeedServer, ServedFeed
from services.supervisor import SERVICES, Supervisor
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.helpers import REPO, eventually, read_topic, write_config

CHAT = 424242


async def test_arabic_fixture_flows_from_feed_to_telegram_and_slack(
    tmp_path: Path,
    prefix: str,
    broker: EmbeddedBroker,
    feeds: FeedServer,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> None:
    feeds.feeds["sabq.xml"] = ServedFeed((REPO / "samples/feeds/sabq-ar.xml").read_bytes())
    config = write_config(
        tmp_path,
        prefix,
        feeds=[{"url": feeds.url("sabq.xml"), "name": "Sabq", "lang": "ar", "interval": "1s"}],
        notify={
            "telegram": {
                "token": telegram.token,
                "api_base": telegram.base_url,
                "chats": [{"id": CHAT, "watchlists": ["conflict"]}],
                "limits": {"private_chat": "20/s"},  # compressed: 1/s would take seconds here
            },
            "slack": [{"name": "newsroom", "webhook_url": slack.url()}],
            "slack_rate": "20/s",
        },
    )
    supervisor = Supervisor(config, broker.bootstrap, dict.fromkeys(SERVICES, 0), "warning")
    await supervisor.start()
    try:

        def fixture_messages() -> list[str]:
            return [m.text for m in telegram.messages if "أرمينيا وأذربيجان" in m.text]

        def both_events() -> bool:
            texts = " ".join(fixture_messages())
            return "ceasefire_violation" in texts and "threat_to_cut_relations" in texts

        await eventually(both_events, what="Telegram alerts for the fixture article")
        texts = fixture_messages()
        violation = next(t for t in texts if "ceasefire_violation" in t)
        assert "بخرق الهدنة" in violation  # the matched words, as written in the article
        threat = next(t for t in texts if "threat_to_cut_relations" in t)
        assert "مهددًا بقطع العلاقات" in threat
        assert all(m.chat_id == str(CHAT) and m.parse_mode == "HTML" for m in telegram.messages)
        # the feed is polled every second: conditional GETs, and nothing is sent twice
        await eventually(lambda: feeds.not_modified.get("sabq.xml", 0) >= 2, what="304 answers")
        alerts = [
            json.loads(a)
            for a in await read_topic(broker.bootstrap, f"{prefix}.alerts", at_least=1)
        ]
        owed = len({a["id"] for a in alerts})
        stories = len({a["story_id"] for a in alerts})
        # Telegram: one message per story (a second event edits it); Slack cannot edit
        await eventually(lambda: len(slack.posts) >= owed, what="every alert on Slack")
        await eventually(lambda: len(telegram.messages) >= stories, what="a message per story")
        assert len(telegram.messages) == stories < owed and len(slack.posts) == owed
    finally:
        codes = await supervisor.stop()
    assert codes == dict.fromkeys(SERVICES, 0), "every service shuts down cleanly on SIGTERM"


async def test_run_starts_broker_and_services_prints_alerts_and_stops_on_sigint(
    tmp_path: Path,
    prefix: str,
    feeds: FeedServer,
) -> None:
    """What `make run` does, with the embedded broker and console output; Ctrl-C stops it."""
    import asyncio
    import signal
    import sys

    feeds.feeds["sabq.xml"] = ServedFeed((REPO / "samples/feeds/sabq-ar.xml").read_bytes())
    config = write_config(
        tmp_path,
        prefix,
        feeds=[{"url": feeds.url("sabq.xml"), "name": "Sabq", "lang": "ar"}],
        notify={"console": True, "console_format": "jsonl"},
    )
    logs = tmp_path / "stderr.txt"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "--log-format",
        "text",  # what a terminal gets
        "run",
        "--config",
        str(config),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=logs.open("wb"),
    )
    assert process.stdout is not None
    events: set[str] = set()
    try:
        async with asyncio.timeout(60):
            while not {"ceasefire_violation", "threat_to_cut_relations"} <= events:
                line = await process.stdout.readline()
                assert line, "run exited early"
                alert = json.loads(line)
                if "علييف" in alert["article"]["title"]:
                    events.add(alert["event"])
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 40)
    assert code == 0
    # start-up says what it waits for, in words, and shutdown goes in order
    lines = logs.read_text(encoding="utf-8").splitlines()
    said = [re.sub(r"^\d\d:\d\d:\d\d \S+\s+\S+\s+", "", line) for line in lines]
    steps = [
        "starting the embedded broker",
        "embedded broker (in memory) ready on",
        "starting ingest, detect, notify; waiting until each is ready",
        "pipeline ready in",
        "stopping: ingest first, then detect and notify once they have caught up",
        "stopped  exit_codes={'ingest': 0, 'detect': 0, 'notify': 0}",
    ]
    found = [next(i for i, line in enumerate(said) if line.startswith(step)) for step in steps]
    assert found == sorted(found), said
    assert not any(line.lstrip().startswith("{") for line in said), "no JSON on a terminal"
