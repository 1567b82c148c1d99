"""The layers of `backend/app` import downwards only, and no module imports itself back.

domain (pure rules) ← repositories (SQL) ← services (rules over data) ← api (HTTP); `core`
(settings, errors, security, observability), `db` (engine, transactions, roles), `models`
(the schema) and `schemas` (HTTP shapes) are used from above and never reach up.
"""

from __future__ import annotations

from tests.architecture.import_graph import cycles, import_graph

# What a layer must never import (package names under `app`).
FORBIDDEN = {
    "domain": {"db", "repositories", "services", "api", "schemas"},
    "models": {"db", "repositories", "services", "api"},
    "schemas": {"db", "repositories", "services", "api"},
    "db": {"repositories", "services", "api"},
    "repositories": {"services", "api"},
    "services": {"api"},
    "core": {"repositories", "services", "api"},
}


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_no_module_imports_itself_back() -> None:
    assert cycles(import_graph()) == []


def test_layers_import_downwards_only() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if _layer(target) in FORBIDDEN.get(_layer(module), set())
    )
    assert upward == []


def test_the_graph_is_read() -> None:
    # The checks above pass vacuously on an empty graph: the app's entry imports its routers.
    graph = import_graph()
    assert "app.api.routes.checkins" in graph["app.main"]
    assert "app.api.openapi" in graph["app.main"]
