"""Burst benchmark: 1,000 alerts to 50 chats through the real sender loop and aiogram Bot.

Prints one JSON object: delivered messages per second against the bot's (compressed) limit,
the burst's duration against the least time the limits allow, drops, duplicates, and the
fastest any chat or one-second window went relative to its limit.

    .venv/bin/python -m bench.notify_burst [--speedup 5] [--seed 4] [--no-faults] [--pace 1]
"""

import argparse
import asyncio
import json
import logging
import tempfile
from pathlib import Path

from tests.burst import run_burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--speedup", type=float, default=5.0, help="limits x this (1 = real)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--no-faults", action="store_true", help="no 429/5xx/timeouts")
    parser.add_argument(
        "--pace", type=float, default=1.0,
        help="pace at this x the judged limits (below 1: max_chat_rate_ratio shows it)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # injected faults would log hundreds of retries
    faults = {"p_429": 0.0, "p_5xx": 0.0, "p_timeout": 0.0} if args.no_faults else {}
    with tempfile.TemporaryDirectory() as state:
        report = asyncio.run(
            run_burst(
                Path(state),
                alerts=args.alerts,
                speedup=args.speedup,
                seed=args.seed,
                pace_factor=args.pace,
                **faults,
            )
        )
    figures = report.json()
    figures["delivered_vs_limit"] = round(report.delivered_per_s / report.bot_limit_per_s, 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
