"""Every service and every repository has a test module that tests it, found where a reader
looks for it: `tests/repositories/test_<name>.py`, `tests/services/test_<name>.py`, or, for a
service reached through its HTTP routes, `tests/api/test_<name>.py`; the few exceptions are
listed in `ELSEWHERE`, each with its reason.

Finding a file of the right name is not enough: the test module must import the module it
stands for, or (an API test module, with the `tests.support` request helpers it uses) request
a URL whose endpoint calls into the service, or assert a problem code the service declares;
so renaming a module without its tests fails here."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from tests.architecture.import_graph import APP, app_modules, imported_modules

TESTS = Path(__file__).resolve().parents[1]

# Modules whose tests live under another name. Keep it short: a new entry needs a reason a
# reader accepts, else name the test module after the module.
ELSEWHERE: dict[str, str] = {
    # `GET/PATCH/DELETE /v1/me` are the user service's only callers; their tests are named
    # after the URL, as API.md names the resource.
    "app.services.users": "api/test_me.py",
    # The check-in PUT's hot path: tested with the other check-in routes it must agree with.
    "app.services.checkin_put": "api/test_checkins.py",
    # Row classes only (no statement, no rule): every repository test reading typed rows
    # through them exercises them; the boards' rows are the most varied.
    "app.repositories.records": "repositories/test_boards.py",
}


def _tested_modules() -> list[str]:
    return sorted(
        name
        for name in app_modules()
        if name.rsplit(".", 1)[0] in {"app.services", "app.repositories"}
    )


def _candidates(module: str) -> list[Path]:
    if module in ELSEWHERE:
        return [TESTS / ELSEWHERE[module]]
    layer, name = module.split(".")[1:]
    found = [TESTS / layer / f"test_{name}.py"]
    if layer == "services":
        found.append(TESTS / "api" / f"test_{name}.py")
    return found


def _imports(test_module: Path) -> set[str]:
    """The app modules a test module imports (at any depth, as the import-graph test reads)."""
    return set(imported_modules(test_module, set(app_modules())))


def _calls_into(endpoint: Any, service: str) -> bool:
    """Whether the endpoint's own code names something the service defines."""
    endpoint = inspect.unwrap(endpoint)
    names = endpoint.__code__.co_names
    return any(
        getattr(endpoint.__globals__.get(name), "__module__", None) == service for name in names
    )


def _route_patterns(service: str) -> list[re.Pattern[str]]:
    """The URLs of the routes whose endpoint calls into the service, as patterns a test's
    literal or f-string URL matches whole (`{habit_id}` stands for any one path segment)."""
    patterns = []
    for name in app_modules():
        if not name.startswith("app.api.routes."):
            continue
        for router in vars(importlib.import_module(name)).values():
            if not isinstance(router, APIRouter):
                continue
            for route in router.routes:
                if isinstance(route, APIRoute) and _calls_into(route.endpoint, service):
                    segments = re.split(r"\{[^}]+\}", route.path)
                    segment = r"(?:\{[^}]*\}|[^/\"'{]+)"  # an f-string field or a literal
                    whole = segment.join(re.escape(part) for part in segments)
                    patterns.append(re.compile(whole + r"(?=[\"'?])"))  # the whole path
    return patterns


def _problem_codes(service: str) -> set[str]:
    """The problem codes the service declares (`code = "..."`, `declare("...", ...)`)."""
    source = (APP.parent / Path(*service.split("."))).with_suffix(".py").read_text()
    codes = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "declare"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            codes.add(str(node.args[0].value))
        elif isinstance(node, ast.Assign):
            targets = node.targets[0]
            names = targets.elts if isinstance(targets, ast.Tuple) else [targets]
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for target, value in zip(names, values, strict=False):
                if (
                    isinstance(target, ast.Name)
                    and target.id == "code"
                    and isinstance(value, ast.Constant)
                ):
                    codes.add(str(value.value))
    return codes


def _source_with_helpers(test_module: Path) -> str:
    """The test module's text and that of the `tests.support` helpers it imports (the
    request helpers that hold the URLs: `check_in`, `checkin_url`, ...)."""
    helpers = {
        node.module
        for node in ast.walk(ast.parse(test_module.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.support.")
    }
    paths = [test_module] + [
        TESTS.parent / Path(*str(module).split(".")).with_suffix(".py") for module in helpers
    ]
    return "\n".join(path.read_text() for path in paths if path.exists())


def _exercises(test_module: Path, module: str) -> bool:
    imported = _imports(test_module)
    if module in imported:
        return True
    if module in ELSEWHERE and any(module in _imports(app_modules()[name]) for name in imported):
        return True  # a helper module, exercised through the module the test imports
    if test_module.parent.name != "api":
        return False
    source = _source_with_helpers(test_module)
    return any(pattern.search(source) for pattern in _route_patterns(module)) or any(
        f'"{code}"' in source for code in _problem_codes(module)
    )


@pytest.mark.parametrize("module", _tested_modules())
def test_the_module_has_a_test_module_that_exercises_it(module: str) -> None:
    candidates = _candidates(module)
    existing = [path for path in candidates if path.exists()]
    names = " or ".join(str(path.relative_to(TESTS.parent)) for path in candidates)
    assert existing, f"{module} has no test module: add {names} (or a justified ELSEWHERE entry)"
    assert any(_exercises(path, module) for path in existing), (
        f"{names} does not exercise {module}: import it, or (an API test) request one of its"
        " routes or assert one of its problem codes"
    )


def test_every_exception_names_a_module_that_exists() -> None:
    """A renamed or deleted module leaves no stale entry behind."""
    assert set(ELSEWHERE) <= set(_tested_modules())


def test_a_test_module_that_does_not_exercise_its_module_is_caught() -> None:
    # The check itself must be able to fail: by import, by URL and by problem code.
    assert not _exercises(TESTS / "repositories" / "test_users.py", "app.repositories.habits")
    assert not _exercises(TESTS / "api" / "test_me.py", "app.services.checkin_put")
    assert not _exercises(TESTS / "api" / "test_quotas.py", "app.services.rate_limits")
    assert _exercises(TESTS / "api" / "test_checkins.py", "app.services.checkin_put")
