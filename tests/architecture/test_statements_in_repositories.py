"""Every SQL statement lives in `app.repositories`: no other module of `backend/app` builds
one or sends one, except the infrastructure named in `INFRASTRUCTURE`.

A service may still do its session's unit of work (`add`, `flush`, `refresh`,
`begin_nested`), use SQL expressions as values (`func.now()`) and hand its session or
connection to a repository; what it may not do is import a statement builder or raw SQL, or
send anything through a session, connection or driver itself."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.architecture.import_graph import APP

# What builds or sends a statement: builders imported from SQLAlchemy, and the sending
# methods of an ORM session, a SQLAlchemy connection and an asyncpg connection.
STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text", "union_all", "TextClause"}
SESSION_STATEMENTS = {"execute", "scalar", "scalars", "get", "stream", "stream_scalars"}
DRIVER_STATEMENTS = {"executemany", "fetch", "fetchrow", "fetchval"}
# The names a module gives what it sends statements through.
SENDERS = {"session", "connection", "conn", "driver", "sql"}

# The packages besides repositories/ that may build and send statements: infrastructure no
# repository could hold, each with its reason.
INFRASTRUCTURE = {
    "db": "engine set-up, migrations, diagnostics and the request transaction's own SQL",
    "models": "the schema itself: server defaults and index predicates are SQL (`text`)",
}


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
            and node.func.attr in SESSION_STATEMENTS | DRIVER_STATEMENTS
            and (sender := _sender(node.func.value))
        ):
            found.append(f"{path.name}:{node.lineno} calls {sender}.{node.func.attr}")
    return found


def _sender(node: ast.expr) -> str | None:
    """The sender's name for `session`, `self.session`, `borrowed.driver` and the like."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    return name if name in SENDERS else None


def _checked_modules() -> list[Path]:
    """Every module of `backend/app` outside repositories/ and the infrastructure."""
    homes = {"repositories", *INFRASTRUCTURE}
    return [
        path for path in sorted(APP.rglob("*.py")) if path.relative_to(APP).parts[0] not in homes
    ]


def test_only_repositories_build_or_send_statements() -> None:
    checked = {path.relative_to(APP).parts[0] for path in _checked_modules()}
    # The glob found every layer above the repositories, and the top-level modules.
    assert {"api", "core", "domain", "schemas", "services", "cli.py", "main.py"} <= checked
    found = [
        f"{path.relative_to(APP).parent / statement}"
        for path in _checked_modules()
        for statement in statements_in(path)
    ]
    assert found == []


def test_every_exception_is_a_package_of_the_app() -> None:
    assert all((APP / package / "__init__.py").exists() for package in INFRASTRUCTURE)


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


def test_the_check_sees_a_statement_sent_on_a_connection(tmp_path: Path) -> None:
    # What app/seed.py did before it called repositories: statements built elsewhere, sent
    # on the caller's connection or its asyncpg driver.
    tooling = tmp_path / "tooling.py"
    tooling.write_text(
        "async def seed(connection, borrowed, rows):\n"
        "    await connection.execute(INSERT, rows)\n"
        "    return await borrowed.driver.fetchval(COUNT)\n"
        "async def fine(connection, db):\n"
        "    db.execute('pragma quick_check')  # a SQLite backup, not our database\n"
        "    return await insert_rows(connection, [])\n"
    )
    assert statements_in(tooling) == [
        "tooling.py:2 calls connection.execute",
        "tooling.py:3 calls driver.fetchval",
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
