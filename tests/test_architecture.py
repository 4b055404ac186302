"""Imports follow the data: domain packages know no Kafka and never import downstream."""

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

#: What each domain package may import from the project (docs/architecture.md "Layering rules").
ALLOWED = {
    "text": {"text"},
    "ingest": {"ingest", "text"},
    "detect": {"detect", "ingest", "text"},
    "notify": {"notify", "detect"},
}
PROJECT = {"text", "ingest", "detect", "notify", "services"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_domain_packages_import_no_kafka_and_nothing_downstream(package: str) -> None:
    files = sorted((REPO / package).glob("*.py"))
    assert files
    for path in files:
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert top != "aiokafka", f"{path.name} imports Kafka"
            if top in PROJECT:
                assert top in ALLOWED[package], f"{package}/{path.name} imports {module}"


def test_detect_imports_only_the_article_model_from_ingest() -> None:
    for path in (REPO / "detect").glob("*.py"):
        for module in imported_modules(path):
            if module.startswith("ingest"):
                assert module == "ingest.model", f"{path.name} imports {module}"


def test_notify_imports_only_the_alert_model_from_detect() -> None:
    for path in (REPO / "notify").glob("*.py"):
        for module in imported_modules(path):
            if module.startswith("detect"):
                assert module == "detect.model", f"{path.name} imports {module}"
