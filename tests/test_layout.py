"""The apps depend on each other in one direction: fakturoid → registries → clients → agencies,
and the audit trail (audit) below clients: it knows the models it tracks only by name."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = [
    "agencies",
    "audit",
    "clients",
    "registries",
    "fakturoid",
    "dashboard",
    "fakturoid_sandbox",
    "registries_sandbox",
    "demo",
]
# What each app may import; production code imports neither the sandboxes nor the demo.
ALLOWED = {
    "agencies": set(),
    "audit": {"agencies"},
    "clients": {"agencies", "audit"},
    "registries": {"agencies", "audit", "clients"},
    "fakturoid": {"agencies", "audit", "clients", "registries"},
    "dashboard": {"agencies", "clients", "fakturoid"},
}


def imported_apps(app: str) -> set[str]:
    found = set()
    for path in (ROOT / app).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found |= {name.split(".")[0] for name in names} & set(APPS)
    return found - {app}


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_it_imports_only_the_apps_below_it(app):
    assert imported_apps(app) <= ALLOWED[app]


def test_no_two_apps_import_each_other():
    graph = {app: imported_apps(app) for app in APPS}
    pairs = {(a, b) for a in APPS for b in graph[a] if a in graph[b]}
    assert not pairs
