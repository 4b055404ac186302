"""Issue 12's audit: a hostile config or watchlist file is one FILE:LINE problem, never a hang
or a RecursionError (PyYAML has no limits of its own)."""

from pathlib import Path

import pytest

from services.config import load_config, load_watchlists
from services.yamlfile import MAX_ALIAS_NODES, MAX_YAML_DEPTH, ConfigError, read_yaml


def refused(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    (problem,) = caught.value.problems
    return str(problem)


def billion_laughs() -> str:
    """Nine levels of ten aliases each: 10**9 strings once expanded, 100 bytes of YAML."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_without_expanding(tmp_path: Path) -> None:
    problem = refused(tmp_path / "laughs.yaml", billion_laughs())
    assert problem == f"{tmp_path / 'laughs.yaml'}:2: YAML: aliases repeat more than 100,000 nodes"


def test_thousands_of_nested_lists_are_refused_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    problem = refused(path, "rules: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problem == f"{path}:1: YAML: mappings and lists nested more than 64 deep"
    # block style recurses the same way
    block = "".join("  " * i + f"k{i}:\n" for i in range(3000)) + "  " * 3000 + "end\n"
    assert "nested more than 64 deep" in refused(path, block)
    path.write_text("x: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1), "utf-8")
    assert read_yaml(path).data is not None  # the limit itself loads


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cycle.yaml"
    assert refused(path, "watchlists: &w [*w]\n") == (
        f"{path}:1: YAML: alias *w is inside its own anchor"
    )
    assert "inside its own anchor" in refused(path, "feeds:\n  - &f\n    url: x\n    me: *f\n")


def test_aliases_that_nest_deeper_than_the_limit_are_refused(tmp_path: Path) -> None:
    chain = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 80))
    problem = refused(tmp_path / "chain.yaml", chain)
    assert problem.endswith(":2: YAML: nested more than 64 deep once aliases are expanded")


def test_an_integer_too_long_to_convert_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    assert refused(path, "metrics:\n  port: " + "1" * 5000 + "\n") == (
        f"{path}:2: YAML: integer longer than 100 digits"
    )


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "mediawatch.yaml"
    path.write_text(
        "feeds:\n"
        "  - &base {url: 'https://a.example/rss', lang: ar, interval: 5m}\n"
        "  - {<<: *base, url: 'https://b.example/rss'}\n",
        encoding="utf-8",
    )
    feeds = load_config(path).config.feeds
    assert [(f.url, f.lang, f.interval) for f in feeds] == [
        ("https://a.example/rss", "ar", 300.0),
        ("https://b.example/rss", "ar", 300.0),
    ]
    many = "x: &x [a, b, c]\ny: [" + ", ".join(["*x"] * (MAX_ALIAS_NODES // 4 - 1)) + "]\n"
    path.write_text(many, encoding="utf-8")
    assert len(read_yaml(path).data["y"]) == MAX_ALIAS_NODES // 4 - 1  # under the limit


def test_a_hostile_watchlist_is_a_problem_of_that_file(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_watchlists([path])
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: YAML: aliases repeat more than 100,000 nodes"
    ]
