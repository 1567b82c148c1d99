"""The four requests the benchmark sends, the mix, and the data file wrk's Lua script reads.

Every request is one a real client sends: a seeded login's own token; its today board; a
check-in PUT on one of its habits (or, for the owner and the admin, on the kid's) for its
local today or a recent day; its family's board; the stats of one of its habits.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.domain.clock import local_today

ENDPOINTS = ("today", "checkin", "board", "stats")
MIX = {"today": 60, "checkin": 25, "board": 10, "stats": 5}  # percent; wrk/workload.lua too
LABELS = {
    "today": "GET /v1/me/today",
    "checkin": "PUT /v1/habits/{id}/checkins/{date}",
    "board": "GET /v1/families/{id}/board",
    "stats": "GET /v1/habits/{id}/stats",
    "mixed": "mix 60/25/10/5",
}
RECENT_DAYS = 20  # check-ins for past days go this far back (the API allows 30)
LUA_SCRIPT = Path(__file__).resolve().parent / "wrk" / "workload.lua"


@dataclass(frozen=True, slots=True)
class BenchRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


def checkin_body(habit: dict[str, Any]) -> bytes:
    if habit["type"] == "numeric":
        return json.dumps({"status": "done", "value": habit["target"]}).encode()
    return b'{"status":"done"}'


def writable_habits(user: dict[str, Any]) -> list[dict[str, Any]]:
    return [*user["habits"], *user["managed_habits"]]


def user_requests(
    user: dict[str, Any], habit: dict[str, Any], now: datetime
) -> dict[str, BenchRequest]:
    """One request of each kind for this user and habit (the check-in for yesterday)."""
    headers = {"Authorization": f"Bearer {user['token']}", "Content-Type": "application/json"}
    yesterday = local_today(user["timezone"], user["day_start_hour"], now) - timedelta(days=1)
    return {
        "today": BenchRequest("GET", "/v1/me/today", headers),
        "checkin": BenchRequest(
            "PUT", f"/v1/habits/{habit['id']}/checkins/{yesterday}", headers, checkin_body(habit)
        ),
        "board": BenchRequest("GET", f"/v1/families/{user['family_id']}/board", headers),
        "stats": BenchRequest("GET", f"/v1/habits/{habit['id']}/stats", headers),
    }


def capture_requests(ids: dict[str, Any]) -> dict[str, BenchRequest]:
    """The first owner's requests, on a numeric habit (so the check-in's value is traced to
    the body): what the SQL capture sends."""
    owner = next(user for user in ids["users"] if user["role"] == "owner")
    habit = next(h for h in writable_habits(owner) if h["type"] == "numeric")
    return user_requests(owner, habit, datetime.now(UTC))


def write_lua_data(ids: dict[str, Any], path: Path, *, seed: int = 6) -> int:
    """One line per login for wrk/workload.lua (plain lines: LuaJIT cannot load a table
    literal with this many constants). Fields, `|`-separated: token, family id, local today,
    recent days, habit ids for stats, `id=value` habits to check in (empty value: boolean)."""
    now = datetime.now(UTC)
    users = list(ids["users"])
    random.Random(seed).shuffle(users)
    lines = []
    for user in users:
        today = local_today(user["timezone"], user["day_start_hour"], now)
        recent = ",".join(str(today - timedelta(days=n)) for n in range(1, RECENT_DAYS + 1))
        habits = writable_habits(user)
        writable = ",".join(
            f"{h['id']}={h['target'] if h['type'] == 'numeric' else ''}" for h in habits
        )
        stats = ",".join(h["id"] for h in habits)
        lines.append(
            "|".join((user["token"], user["family_id"], str(today), recent, stats, writable))
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return len(lines)
