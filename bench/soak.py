"""Soak: `mediawatch run` under a steady stream for minutes while faults keep coming.

A feed gains an item every `--every` seconds (each fires one rule); every `--fault-every`
seconds one fault, drawn with `--seed`, hits the running tree: kill -9 of ingest, detect, notify
or the embedded broker, or detect stalled (SIGSTOP) for a few seconds. At the end the stream
stops, the pipeline drains, and one JSON object is printed: items served, delivered, lost,
duplicated, faults injected, restarts seen, wall time.

    .venv/bin/python -m bench.soak [--minutes 10] [--every 0.5] [--fault-every 20] [--seed 1]

Nothing here is asserted: the fault suite (tests/test_faults.py) asserts each fault alone, in
seconds; this runs them back to back for as long as asked.
"""

import argparse
import asyncio
import contextlib
import json
import random
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

from services.feed_server import FeedServer
from tests.helpers import eventually
from tests.running import LiveFeed, Run, pipeline_config, tally

FAULTS = ("kill ingest", "kill detect", "kill notify", "kill broker", "stall detect")


async def inject(run: Run, fault: str) -> None:
    if fault == "stall detect":
        run.signal("detect", signal.SIGSTOP)
        await asyncio.sleep(4)
        run.signal("detect", signal.SIGCONT)
        return
    part = fault.split()[1]
    run.signal(part, signal.SIGKILL)
    if part == "broker":
        await run.ready(times=len(run.said("pipeline ready")) + 1)
    else:
        restarts = len(run.said(f"started {part}"))
        await run.wait_for(lambda: len(run.said(f"started {part}")) > restarts, what="restart")


async def soak(
    minutes: float, every_s: float, fault_every_s: float, seed: int
) -> dict[str, object]:
    rng = random.Random(seed)
    feeds = FeedServer()
    await feeds.start()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mediawatch-soak-") as tmp:
        live = LiveFeed(feeds, every_s=every_s, window=400)
        live.add()
        run = await Run(pipeline_config(Path(tmp), "soak", feeds)).start()
        injected: Counter[str] = Counter()
        try:
            await run.ready()
            live.start(int(minutes * 60 / every_s))
            deadline = started + minutes * 60
            while time.monotonic() + fault_every_s < deadline:
                await asyncio.sleep(fault_every_s)
                fault = rng.choice(FAULTS)
                injected[fault] += 1
                await inject(run, fault)
            await live.finished()
            expected = live.count
            with contextlib.suppress(AssertionError):  # a loss shows in the figures
                await eventually(
                    lambda: tally(run.on_console(), expected)[0] == 0,
                    timeout=120,
                    what="everything delivered",
                )
        finally:
            code = await run.interrupt(timeout=120)
            await feeds.stop()
    lost, duplicated = tally(run.on_console(), live.count)
    return {
        "minutes": minutes,
        "items": live.count,
        "delivered": len(set(run.on_console())),
        "lost": lost,
        "duplicated": duplicated,
        "faults": dict(injected),
        "restarts_logged": len(run.said("restarting it in")),
        "broker_restarts": len(run.said("the embedded broker died")),
        "exit_code": code,
        "wall_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between feed items")
    parser.add_argument("--fault-every", type=float, default=20.0, help="seconds between faults")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(soak(args.minutes, args.every, args.fault_every, args.seed))))


if __name__ == "__main__":
    main()
