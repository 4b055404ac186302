"""Config and watchlist validation: every problem named as FILE:LINE: field: message."""

import subprocess
import sys
from pathlib import Path

import pytest

from services.config import Config, load_config, load_watchlists, parse_duration
from services.yamlfile import ConfigError
from tests.helpers import REPO

MEDIAWATCH = [sys.executable, "-m", "services.cli"]


def run_cli(
    *args: str, cwd: Path = REPO, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEDIAWATCH, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"},
    )


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_shipped_config_and_watchlists_pass_check() -> None:
    result = run_cli("check", "--config", "mediawatch.yaml")
    assert result.returncode == 0, result.stderr
    assert "ok:" in result.stdout and "1 watchlists" in result.stdout


def test_every_bad_field_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "kafka:\n"
        "  bootstrap: embedded\n"
        "  partitons: 3\n"  # line 3: typo
        "feeds:\n"
        "  - url: https://example.com/rss\n"
        "    interval: soon\n"  # line 6: not a duration
        "  - url: ftp://example.com/feed\n"  # line 7: bad scheme
        "metrics:\n"
        "  port: 99999\n",  # line 9: out of range
        encoding="utf-8",
    )
    found = problems(path)
    assert found[0].startswith(f"{path}:3: kafka.partitons: unknown field")
    assert any(
        p.startswith(f"{path}:6: feeds[0].interval: 'soon' is not a duration") for p in found
    )
    assert any(p.startswith(f"{path}:7: feeds[1].url:") for p in found)
    assert any(p.startswith(f"{path}:9: metrics.port:") for p in found)
    assert len(found) == 4


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kafka:\n  bootstrap: embedded\nfeeds: [\n  {url: x\n", encoding="utf-8")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:") and "YAML syntax" in problem


def test_env_substitution_and_missing_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n", encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(
        "kafka: {bootstrap: '${MW_TEST_BOOTSTRAP}'}\n"
        "notify:\n"
        f"  telegram: {{token: '${{file:{secret}}}'}}\n"
        "  slack: [{name: s, webhook_url: '${MW_TEST_HOOK:-http://hook.invalid/x}'}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("MW_TEST_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    config = load_config(path).config
    assert config.kafka.bootstrap == "kafka-1:9092,kafka-2:9092"
    assert config.notify.telegram.token is not None
    assert config.notify.telegram.token.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(config)  # secrets never end up in logs
    assert config.notify.slack[0].webhook_url.get_secret_value() == "http://hook.invalid/x"
    monkeypatch.delenv("MW_TEST_BOOTSTRAP")
    assert problems(path) == [
        f"{path}:1: kafka.bootstrap: environment variable MW_TEST_BOOTSTRAP is not set"
    ]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("1h", 3600), (120, 120), ("1.5m", 90)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5s", "0", "5 minutes", True])
def test_bad_durations(text: str | bool) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_defaults_need_no_config_at_all() -> None:
    config = Config()
    assert config.kafka.embedded and config.kafka.topic_prefix == "mediawatch"
    assert config.notify.console and not config.notify.telegram.enabled


def test_bad_watchlist_names_file_line_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "id: test\n"
        "title: Test\n"
        "rules:\n"
        "  - id: ok\n"
        "    query: truce\n"
        "  - id: unclosed\n"
        "    query: '(ceasefire OR truce'\n"  # line 7
        "  - id: bad-severity\n"
        "    severity: urgent\n"  # line 9
        "    query: x\n"
        "  - id: backtracking\n"
        "    regex: '(a)\\1'\n",  # line 12
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_watchlists([path])
    found = [str(p) for p in caught.value.problems]
    assert found == [
        f"{path}:7: rule unclosed: query: '(' is never closed at column 1",
        f"{path}:9: rule bad-severity: severity: Input should be 'low', 'medium', 'high' or "
        "'critical'",
        f"{path}:12: rule backtracking: regex: not supported by RE2 (linear-time regex): "
        "invalid escape sequence: \\1",
    ]


def test_check_cli_prints_file_line_and_exits_1(tmp_path: Path) -> None:
    watchlists = tmp_path / "wl"
    watchlists.mkdir()
    (watchlists / "dup.yaml").write_text(
        "id: dup\ntitle: D\nrules:\n  - {id: a, query: x}\n  - {id: a, query: y}\n",
        encoding="utf-8",
    )
    config = tmp_path / "mediawatch.yaml"
    config.write_text(
        "watchlists: [wl]\nnotify:\n  telegram:\n    chats:\n      - {id: 5, watchlists: [nope]}\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 1
    assert f"{watchlists / 'dup.yaml'}:3: rules: rule id 'a' is used twice" in result.stderr
    config.write_text(
        "watchlists: [" + str(REPO / "watchlists") + "]\n"
        "notify:\n  telegram:\n    chats:\n      - {id: 5, watchlists: [nope]}\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"{config}:5: notify.telegram.chats[0].watchlists[0]: "
        "unknown watchlist 'nope' (known: conflict)"
    )


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("check", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "config file not found" in result.stderr


@pytest.mark.parametrize(
    "command",
    ["run", "ingest", "detect", "notify", "demo", "check", "match", "fetch", "feeds"],
)
def test_every_command_has_help(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert f"usage: mediawatch {command}" in result.stdout
