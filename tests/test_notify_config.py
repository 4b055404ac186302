"""Notify's config keys: rates and retry delays, with FILE:LINE errors."""

from pathlib import Path

import pytest

from services.config import (
    Config,
    check_references,
    load_config,
    load_watchlists,
    parse_rate,
    watchlist_paths,
)
from services.yamlfile import ConfigError
from tests.helpers import REPO


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("30/s", 30), ("20/m", 20 / 60), ("600/h", 600 / 3600), ("1.5 / s", 1.5)],
)
def test_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["30", "fast", "0/s", "30/week", "-1/s"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_telegram_limits_default_to_the_published_ones() -> None:
    limits = Config().notify.telegram.limits
    assert (limits.bot, limits.private_chat) == (30, 1)
    assert limits.group == pytest.approx(20 / 60)


def test_bad_notify_values_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "notify:\n"
        "  telegram:\n"
        "    limits:\n"
        "      bot: 30 per second\n"  # line 4
        "      grup: 20/m\n"  # line 5: typo
        "  retry:\n"  # line 6: min above max
        "    min_delay: 1m\n"
        "    max_delay: 5s\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    found = sorted(str(p) for p in caught.value.problems)
    assert found == [
        f"{path}:4: notify.telegram.limits.bot: '30 per second' is not a rate "
        "(write 30/s, 20/m or 600/h)",
        f"{path}:5: notify.telegram.limits.grup: unknown field (check its spelling)",
        f"{path}:6: notify.retry: min_delay must not be above max_delay",
    ]


def test_an_allowlist_policy_needs_an_allowlist(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "notify:\n"
        "  telegram:\n"
        "    bot:\n"  # line 3
        "      enabled: true\n"
        "      who_may_subscribe: allowlist\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: notify.telegram.bot: who_may_subscribe: allowlist needs a non-empty allowlist"
    ]


def test_timezone_must_be_a_real_one(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("notify:\n  timezone: Mars/Olympus\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: notify.timezone: 'Mars/Olympus' is not a time zone (write e.g. UTC, "
        "Asia/Riyadh)"
    ]
    good = tmp_path / "good.yaml"
    good.write_text("notify:\n  timezone: Asia/Riyadh\n", encoding="utf-8")
    assert load_config(good).config.notify.timezone == "Asia/Riyadh"


def test_quiet_hours_and_ceilings(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "notify:\n"
        "  quiet_hours:\n"
        "    start: '25:00'\n"  # line 3
        "    end: '07:00'\n"
        "  ceilings:\n"
        "    conflict: 0\n",  # line 6
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert sorted(str(p) for p in caught.value.problems) == [
        f"{path}:3: notify.quiet_hours.start: '25:00' is not a time of day (write HH:MM, e.g. "
        "22:00)",
        f"{path}:6: notify.ceilings.conflict: Input should be greater than or equal to 1",
    ]


def test_ceilings_must_name_a_known_watchlist(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("notify:\n  ceilings:\n    nope: 5\n", encoding="utf-8")
    loaded = load_config(path)
    watchlists = load_watchlists(watchlist_paths(["watchlists"], REPO))
    assert [str(p) for p in check_references(loaded, watchlists)] == [
        f"{path}:3: notify.ceilings.nope: unknown watchlist 'nope' (known: conflict)"
    ]


def test_webhook_mode_needs_its_url_and_secret(tmp_path: Path) -> None:
    path = tmp_path / "hook.yaml"
    path.write_text(
        "notify:\n  telegram:\n    bot:\n      mode: webhook\n", encoding="utf-8"
    )  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: notify.telegram.bot: mode: webhook needs a webhook section (url, secret)"
    ]
    path.write_text(
        "notify:\n  telegram:\n    bot:\n      mode: webhook\n      webhook:\n"
        "        url: https://bot.example.org/telegram\n        secret: ${MW_HOOK:-s}\n",
        encoding="utf-8",
    )
    hook = load_config(path).config.notify.telegram.bot.webhook
    assert hook is not None and hook.listen_port == 8443 and hook.path == "/telegram"
