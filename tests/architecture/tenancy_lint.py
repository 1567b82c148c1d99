"""Finds tenancy written outside its module: a query narrowed to the caller's memberships
(a membership join, a family filter on the caller) anywhere but
`app/repositories/tenancy.py`, read from the source.

Two shapes are recognised:
- ORM: a comparison of a `.user_id` column with the caller (`actor.user_id`,
  `self.actor.user_id`, a bare `user_id`), or `filter_by(user_id=<the caller>)`;
- SQL text (string constants, f-strings' literal parts included): a statement naming
  `family_members` that compares a `user_id` with a bound parameter (`$1`, `:user`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from tests.architecture.import_graph import APP

TENANCY = APP / "repositories" / "tenancy.py"

# `m.user_id = $1`, `user_id = :user`, and the same the other way round.
_SQL_CALLER_FILTER = re.compile(
    r"\buser_id\s*=\s*(\$\d+|:\w+|%\(\w+\)s|\{)|(\$\d+|:\w+)\s*=\s*(\w+\.)?user_id\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Violation:
    path: str  # relative to backend/app
    line: int
    source: str  # the offending line, stripped

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source}"


def _is_caller(node: ast.expr) -> bool:
    """`actor.user_id`, `self.actor.user_id`, `request.actor.user_id` or a bare `user_id`."""
    if isinstance(node, ast.Name):
        return node.id == "user_id"
    if isinstance(node, ast.Attribute) and node.attr == "user_id":
        owner = node.value
        return (isinstance(owner, ast.Name) and owner.id == "actor") or (
            isinstance(owner, ast.Attribute) and owner.attr == "actor"
        )
    return False


def _is_user_id_column(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "user_id" and not _is_caller(node)


def _string_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        # An f-string's interpolations stand in as `{`, which the SQL pattern reads as a
        # bound value: `user_id = {param}` is still a filter on a parameter.
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{" for part in node.values
        )
    return None


def _nodes_breaking_tenancy(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(map(_is_user_id_column, operands)) and any(map(_is_caller, operands)):
                yield node
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "user_id" and _is_caller(keyword.value):
                    func = node.func
                    if isinstance(func, ast.Attribute) and func.attr == "filter_by":
                        yield node
        elif isinstance(node, ast.JoinedStr | ast.Constant):
            text = _string_text(node)
            if text and "family_members" in text and _SQL_CALLER_FILTER.search(text):
                yield node


def _inside_fstring(tree: ast.AST) -> set[int]:
    """The ids of the constants that are parts of an f-string (judged with it, not alone)."""
    return {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }


def violations_in(source: str, path: str) -> list[Violation]:
    """The places in `source` (a module's text) that narrow a query to the caller."""
    tree = ast.parse(source, path)
    lines = source.splitlines()
    parts = _inside_fstring(tree)
    found = []
    for node in _nodes_breaking_tenancy(tree):
        if id(node) in parts:
            continue
        line = getattr(node, "lineno", 1)
        found.append(Violation(path, line, lines[line - 1].strip()))
    return sorted(found, key=lambda v: (v.path, v.line))


def app_violations() -> list[Violation]:
    """Every violation in `backend/app`, tenancy's own module excepted."""
    found = []
    for path in sorted(APP.rglob("*.py")):
        if path == TENANCY:
            continue
        found += violations_in(path.read_text(), str(path.relative_to(APP)))
    return found
