"""Issue 10, items 1-3: every documented form of `match` and `check` works as written, and
`check` lists every problem at once, each as one FILE[:LINE]: field: message line."""

import json
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.test_config import run_cli

ARTICLE = json.dumps({"id": "en", "title": "Army says rebels violated the ceasefire"}) + "\n"
TRUCE = "id: {id}\ntitle: T\nrules:\n  - {{id: {id}-rule, query: {query}}}\n"


def rules_fired(stdout: str) -> list[list[str]]:
    return [[a["rule"] for a in json.loads(line)["alerts"]] for line in stdout.splitlines()]


def test_match_takes_the_file_after_the_watchlists_as_its_input(tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text(ARTICLE, encoding="utf-8")
    result = run_cli("match", "--watchlists", "watchlists/", str(articles))  # README, --help
    assert result.returncode == 0, result.stderr
    assert rules_fired(result.stdout) == [["ceasefire-violation"]]
    result = run_cli("match", "--watchlists", "watchlists/", "-", stdin=ARTICLE)  # - is stdin
    assert result.returncode == 0, result.stderr
    assert rules_fired(result.stdout) == [["ceasefire-violation"]]


def test_match_takes_every_yaml_path_as_a_watchlist(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yml"
    a.write_text(TRUCE.format(id="a", query="ceasefire"), encoding="utf-8")
    b.write_text(TRUCE.format(id="b", query="rebels"), encoding="utf-8")
    result = run_cli("match", "--watchlists", str(a), str(b), stdin=ARTICLE)
    assert result.returncode == 0, result.stderr
    assert rules_fired(result.stdout) == [["a-rule", "b-rule"]]


def test_a_watchlist_path_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for pattern, problem in [
        (str(empty), f"{empty}: no .yaml or .yml file in this directory"),
        (f"{tmp_path}/nothing*.yaml", f"{tmp_path}/nothing*.yaml: no file matches this pattern"),
        (str(tmp_path / "gone.yaml"), f"{tmp_path / 'gone.yaml'}: cannot read file: No such file"),
    ]:
        result = run_cli("match", "--watchlists", "watchlists/", pattern, stdin=ARTICLE)
        assert (result.returncode, result.stdout) == (1, ""), pattern
        assert result.stderr.startswith(problem) and len(result.stderr.splitlines()) == 1
    config = tmp_path / "mediawatch.yaml"
    config.write_text(f"watchlists:\n  - {REPO / 'watchlists'}\n  - extra/*.yaml\n", "utf-8")
    result = run_cli("check", "--config", str(config))
    assert (result.returncode, result.stderr) == (
        1,
        f"{config}:3: watchlists[1]: 'extra/*.yaml': no file matches this pattern\n",
    )


def test_check_validates_standalone_watchlists(tmp_path: Path) -> None:
    result = run_cli("check", "--watchlists", "watchlists/conflict.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("watchlists/conflict.yaml: ok: 1 watchlists, ")
    mine = tmp_path / "mine.yaml"
    mine.write_text(TRUCE.format(id="mine", query="'(truce'"), encoding="utf-8")
    expected = f"{mine}:4: rule mine-rule: query: '(' is never closed at column 1\n"
    for args in (["--watchlists", str(mine)], ["--config", str(mine)]):
        result = run_cli("check", *args)
        assert (result.returncode, result.stderr, result.stdout) == (1, expected, ""), args
    mine.write_text(TRUCE.format(id="mine", query="truce"), encoding="utf-8")
    result = run_cli("check", "--config", str(mine))  # a watchlist given as the config
    assert (result.returncode, result.stdout) == (0, f"{mine}: ok: 1 watchlists, 1 rules\n")


def test_check_lists_every_problem_at_once(tmp_path: Path) -> None:
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "bad.yaml").write_text(
        TRUCE.format(id="bad", query="'(truce'"), encoding="utf-8"
    )
    config = tmp_path / "mediawatch.yaml"
    config.write_text(
        "kafka:\n"
        "  bootstrap: ${MW_TEST_UNSET_BOOTSTRAP}\n"  # 2: unset, and it hides nothing
        "  partitons: 3\n"  # 3: typo
        "metrics:\n"
        "  port: 99999\n"  # 5: out of range
        "notify:\n"
        "  slack:\n"
        "    - {name: s, webhook_url: '${MW_TEST_UNSET_HOOK}'}\n"  # 8: unset
        "watchlists: [wl, missing.yaml]\n",  # 9
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{config}:2: kafka.bootstrap: environment variable MW_TEST_UNSET_BOOTSTRAP is not set",
        f"{config}:3: kafka.partitons: unknown field (check its spelling)",
        f"{config}:5: metrics.port: Input should be less than or equal to 65535",
        f"{config}:8: notify.slack[0].webhook_url: environment variable MW_TEST_UNSET_HOOK is "
        "not set",
        f"{tmp_path / 'wl' / 'bad.yaml'}:4: rule bad-rule: query: '(' is never closed at column 1",
        f"{tmp_path / 'missing.yaml'}: cannot read file: No such file or directory",  # no :0:
    ]
    # with only the variables unset, the references are checked too (a broken watchlist is
    # still known by its id)
    config.write_text(
        "kafka: {bootstrap: '${MW_TEST_UNSET_BOOTSTRAP}'}\n"
        "notify:\n  telegram:\n    chats:\n      - {id: 5, watchlists: [bad, nope]}\n"
        "watchlists: [wl]\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(config))
    assert result.stderr.splitlines() == [
        f"{config}:1: kafka.bootstrap: environment variable MW_TEST_UNSET_BOOTSTRAP is not set",
        f"{tmp_path / 'wl' / 'bad.yaml'}:4: rule bad-rule: query: '(' is never closed at column 1",
        f"{config}:5: notify.telegram.chats[0].watchlists[1]: unknown watchlist 'nope' "
        "(known: bad)",
    ]
    # and with a config that does not validate at all, the references are checked all the same
    config.write_text(
        "kafka: {partitons: 3}\n"
        "notify:\n  ceilings: {gone: 5}\n  slack:\n    - {name: s, watchlists: [bad, nope]}\n"
        "watchlists: [wl]\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(config))
    assert result.stderr.splitlines() == [
        f"{config}:1: kafka.partitons: unknown field (check its spelling)",
        f"{config}:5: notify.slack[0].webhook_url: Field required",
        f"{tmp_path / 'wl' / 'bad.yaml'}:4: rule bad-rule: query: '(' is never closed at column 1",
        f"{config}:3: notify.ceilings.gone: unknown watchlist 'gone' (known: bad)",
        f"{config}:5: notify.slack[0].watchlists[1]: unknown watchlist 'nope' (known: bad)",
    ]


@pytest.mark.parametrize("command", ["check", "run", "match"])
def test_a_missing_config_names_the_file_not_line_0(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nope.yaml"
    result = run_cli(command, "--config", str(missing), stdin="")
    assert (result.returncode, result.stderr) == (
        1,
        f"{missing}: config file not found (pass --config FILE)\n",
    )


def test_run_refuses_a_bad_config_with_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "mediawatch.yaml"
    config.write_text("metrics: {port: -1}\nwatchlists: [nowhere/]\n", encoding="utf-8")
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{config}:1: metrics.port: Input should be greater than or equal to 0",
        f"{tmp_path / 'nowhere'}: cannot read file: No such file or directory",
    ]


def test_a_deeply_nested_input_line_is_an_error_line_not_a_traceback() -> None:
    deep = '{"id": "x", "title": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    result = run_cli("match", "--watchlists", "watchlists/", stdin=deep + ARTICLE)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["alerts"] == [] and "recursion limit exceeded" in first["error"]
    assert second["alerts"][0]["rule"] == "ceasefire-violation"  # the next line still runs
