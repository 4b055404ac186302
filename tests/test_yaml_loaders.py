"""libyaml reads config and watchlists (fast), the pure-Python parser explains what libyaml
refuses (clear): the two must agree on every node, line and value of the files we ship. Where
they part, libyaml is the more lenient (a tab as a separator), and that is pinned here."""

from pathlib import Path

import pytest
import yaml

from services.yamlfile import (
    ConfigError,
    _BoundedLoader,
    _compose_with,
    _FastBoundedLoader,
    _Refused,
    _walk,
    read_yaml,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(
    {
        *REPO.glob("*.yaml"),
        *REPO.glob("watchlists/*.yaml"),
        *REPO.glob("deploy/*.y*ml"),
        *REPO.glob("samples/*.yaml"),
        *REPO.glob("docker-compose.yml"),
    }
)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_both_loaders_read_each_shipped_file_alike(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast_node, fast_data = _compose_with(_FastBoundedLoader, text)
    node, data = _compose_with(_BoundedLoader, text)
    assert fast_data == data and data is not None
    assert fast_node is not None and node is not None
    assert dict(_walk(fast_node, ())) == dict(_walk(node, ()))


def test_scalars_types_and_escapes_agree() -> None:
    text = (
        'a: "tab\\there \\u00e9 \\x41"\n'
        "b: 'it''s'\n"
        "c: [yes, No, ~, 0o17, 0x1F, 1_000, 1.5e3, .inf, 2026-12-01]\n"
        "d: |\n  ceasefire\n  وقف إطلاق النار\n"
        "e: >-\n  folded\n  text\n"
        "f: &x {k: v}\n"
        "g: *x\n"
    )
    fast = _compose_with(_FastBoundedLoader, text)[1]
    assert fast == _compose_with(_BoundedLoader, text)[1]
    assert fast["a"] == "tab\there é A" and fast["g"] == {"k": "v"}


def test_the_limits_hold_on_the_fast_path() -> None:
    with pytest.raises(_Refused, match="nested more than 64 deep"):
        _compose_with(_FastBoundedLoader, "x: " + "[" * 100 + "]" * 100)
    with pytest.raises(_Refused, match="integer longer than 100 digits"):
        _compose_with(_FastBoundedLoader, "x: " + "9" * 200)
    with pytest.raises(_Refused, match="inside its own anchor"):
        _compose_with(_FastBoundedLoader, "x: &a [1, *a]")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\ta: 1\n", "found character '\\t' that cannot start any token"),
        ("a: [1, 2\n", "expected ',' or ']', but got '<stream end>'"),
        ("a: b: c\n", "mapping values are not allowed here"),
    ],
)
def test_a_syntax_error_is_told_in_the_reference_parsers_words(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(yaml.YAMLError):  # libyaml refuses it too, in other words
        _compose_with(_FastBoundedLoader, text)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{path}:") and problem.message == f"YAML syntax: {message}"


def test_a_tab_as_separator_is_accepted_as_libyaml_accepts_it() -> None:
    with pytest.raises(yaml.YAMLError):
        _compose_with(_BoundedLoader, "a:\tb\n")  # PyYAML's own parser refuses it
    assert _compose_with(_FastBoundedLoader, "a:\tb\n")[1] == {"a": "b"}


@pytest.mark.parametrize("value", ["2026-02-30", "[2026-13-01]", "{when: 2026-02-30T25:00:00}"])
def test_a_date_of_no_calendar_is_one_problem_at_its_line(tmp_path: Path, value: str) -> None:
    path = tmp_path / "dates.yaml"
    path.write_text(f"id: x\nwhen: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    (problem,) = caught.value.problems
    assert problem.line == 2 and problem.message.startswith("YAML: '2026-")
    assert "cannot be read" in problem.message
