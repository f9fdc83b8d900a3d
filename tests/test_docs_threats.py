"""docs/reliability.md names a test for every threat in its table: those tests must exist."""

import ast
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DOC = BASE_DIR / "docs" / "reliability.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def threat_table() -> str:
    text = DOC.read_text()
    match = re.search(r"<!-- threats:begin -->(.*?)<!-- threats:end -->", text, re.S)
    assert match, "docs/reliability.md lost its <!-- threats:begin/end --> markers"
    return match[1]


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_it_names_a_test_for_every_threat():
    rows = [line for line in threat_table().splitlines() if line.startswith("| ")][2:]

    assert rows
    for row in rows:
        assert REFERENCE.search(row), f"a threat without a test: {row[:80]}"


def test_it_names_only_tests_that_exist():
    missing = []
    for file, name in REFERENCE.findall(threat_table()):
        path = BASE_DIR / file
        if not path.is_file() or name not in defined_tests(path):
            missing.append(f"{file}::{name}")

    assert not missing, "docs/reliability.md names tests that do not exist: " + ", ".join(missing)
