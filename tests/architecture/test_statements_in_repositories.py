"""Every SQL statement lives in `app.repositories`: services build none and run none.

A service may still do its session's unit of work (`add`, `flush`, `refresh`,
`begin_nested`) and use SQL expressions as values (`func.now()`); what it may not do is
import a statement builder or raw SQL, or send anything through the session itself."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.architecture.import_graph import APP

# What builds or sends a statement.
STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text", "union_all", "TextClause"}
SESSION_STATEMENTS = {"execute", "scalar", "scalars", "get", "stream", "stream_scalars"}


def statements_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [
                f"{path.name}:{node.lineno} imports {alias.name}"
                for alias in node.names
                if alias.name in STATEMENT_BUILDERS
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SESSION_STATEMENTS
            and _is_session(node.func.value)
        ):
            found.append(f"{path.name}:{node.lineno} calls session.{node.func.attr}")
    return found


def _is_session(node: ast.expr) -> bool:
    """`session`, `self.session` or `anything.session`."""
    if isinstance(node, ast.Name):
        return node.id == "session"
    return isinstance(node, ast.Attribute) and node.attr == "session"


def test_services_send_no_statement_of_their_own() -> None:
    services = sorted((APP / "services").glob("*.py"))
    assert len(services) > 10  # the glob found the services
    found = [statement for path in services for statement in statements_in(path)]
    assert found == []


def test_the_check_sees_a_statement(tmp_path: Path) -> None:
    # The test above passes vacuously if the check cannot see one.
    service = tmp_path / "service.py"
    service.write_text(
        "from sqlalchemy import select\n"
        "async def load(self):\n"
        "    return await self.session.scalar(select(1))\n"
    )
    assert statements_in(service) == [
        "service.py:1 imports select",
        "service.py:3 calls session.scalar",
    ]


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


def test_the_domain_imports_no_sqlalchemy() -> None:
    # domain/ is pure rules: what it needs from the database, a repository reads for it.
    importing = [
        path.name
        for path in sorted((APP / "domain").glob("*.py"))
        if any(name.split(".")[0] == "sqlalchemy" for name in imported_names(path))
    ]
    assert importing == []
