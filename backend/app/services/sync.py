"""Delta sync for offline-first clients: every change visible to the caller since a cursor.

Why the cursor follows transaction ids. Triggers log each change with the writing
transaction's id (`txid`). A transaction that started early can commit after later ones, so
"changes after the last one I saw" by insert order would skip it. Instead each read first
takes the horizon `xmin` of a fresh snapshot (every transaction with a smaller id has ended)
and only delivers changes of transactions below it, ordered by (txid, seq). The cursor
remembers the horizon and the last delivered (txid, seq); nothing below the horizon can
appear later, and nothing at or above it has been delivered yet. A change waits at most as
long as the oldest open transaction lasts.

Joining a family. The log row that says "you joined family F" stands for everything already
in F, which may be years of check-ins. A page ends at that row, and the cursor then walks F's
current contents kind by kind in id order (`Snapshot`), a page at a time, before going back
to the log right after the join row. Whatever changes in F meanwhile is logged after the
join row, so it comes after the snapshot: a page's cost follows the page, not the history.
A page also stops short of `limit` entities when their JSON nears 1 MB (`PAGE_BYTES`).

Retention. The log is compacted (`services/change_log.py`), which may remove tombstones a
client has not seen; it raises `sync_log_state.resync_below_txid` past them first. A cursor
that has not seen every change below that bound gets 410 `resync_required`. A pass that
began with no cursor started from nothing, so what compaction had removed by then is nothing
it can miss; it remembers the bound it began under (`fresh_bound`), and a bound raised while
the pass goes on may have removed the deletion of something a page already delivered: 410.

The statements are `app.repositories.sync`'; the habits' come from `habit_context`'s loaders.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Gone, Unprocessable
from app.domain.actor import Actor
from app.models import SyncChange
from app.repositories import sync as sync_repo
from app.repositories.sync import NIL_UUID, SNAPSHOT_KINDS
from app.schemas.family import FamilyRead, MemberRead
from app.schemas.habit import CheckinRead, HabitRead, HabitVersionRead
from app.schemas.routine import RoutineRead, RoutineVersionRead
from app.services.families import FamilyView
from app.services.habit_context import in_force, load_habits, load_versions
from app.services.habits import HabitView
from app.services.rate_limits import RateLimits
from app.services.routines import RoutineView, version_dict

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
# The order a client applies changes in: parents before children.
TYPE_ORDER = ("family", *SNAPSHOT_KINDS)
# A page stops short of `limit` entities when their JSON would pass this (the envelope and
# escaped non-ASCII text stay well inside 1 MB): a note or a description can be KBs.
PAGE_BYTES = 768 * 1024
_CHANGE_OVERHEAD = 80  # {"type":..,"id":..,"deleted":..,"data":..} around the resource


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a cursor is inside a joined family's contents: the kind (index into
    SNAPSHOT_KINDS) and the last id of that kind delivered."""

    family_id: uuid.UUID
    kind: int = 0
    after_id: uuid.UUID = NIL_UUID


@dataclass(frozen=True, slots=True)
class Cursor:
    horizon: int = 0  # every change of a transaction below this id was delivered
    after_txid: int = 0
    after_seq: int = 0
    # The compaction bound (`resync_below_txid`) when the pass began with no cursor; None
    # for a cursor that continues from an earlier pass. Ends with the pass (`has_more` false).
    fresh_bound: int | None = None
    # Set while a joined family's contents are being paged; (after_txid, after_seq) is then
    # the join row, where the log resumes.
    snapshot: Snapshot | None = None

    @property
    def continues_a_pass(self) -> bool:
        """Issued with `has_more` (a pass ended leaves only a horizon)."""
        return self.after_seq > 0 or self.snapshot is not None

    @property
    def seen_below_txid(self) -> int:
        """Every change of a transaction below this id has been delivered."""
        return max(self.horizon, self.after_txid)

    def missed_removals(self, resync_below: int) -> bool:
        """Compaction, raising its bound to `resync_below`, may have removed a tombstone this
        cursor's client has not seen: removals below the cursor's position were delivered
        before they happened, and a fresh pass is not concerned by the ones before it began."""
        return resync_below > max(self.seen_below_txid, self.fresh_bound or 0)

    def encode(self) -> str:
        # The bound is written plus one, so that 0 keeps meaning "not a fresh pass" (a cursor
        # issued before the bound was recorded reads as a fresh pass begun under bound 0).
        fresh = 0 if self.fresh_bound is None else self.fresh_bound + 1
        fields: list[Any] = [self.horizon, self.after_txid, self.after_seq, fresh]
        if self.snapshot is not None:
            snapshot = self.snapshot
            fields += [snapshot.family_id.hex, snapshot.kind, snapshot.after_id.hex]
        raw = json.dumps(fields, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Cursor:
        if not value:
            return cls()
        try:
            fields = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            # Three fields: a cursor issued before passes and snapshots existed.
            if not isinstance(fields, list) or len(fields) not in (3, 4, 7):
                raise ValueError("not a cursor")
            horizon, txid, seq = (int(field) for field in fields[:3])
            fresh = int(fields[3]) if len(fields) > 3 else 0
            if fresh < 0:
                raise ValueError("not a cursor")
            snapshot = None
            if len(fields) == 7:
                kind = int(fields[5])
                if not 0 <= kind < len(SNAPSHOT_KINDS):
                    raise ValueError("not a cursor")
                snapshot = Snapshot(uuid.UUID(fields[4]), kind, uuid.UUID(fields[6]))
            return cls(horizon, txid, seq, fresh - 1 if fresh else None, snapshot)
        except (ValueError, TypeError, AttributeError) as error:
            raise Unprocessable(
                "The cursor is not one this API issued.", code="invalid_cursor"
            ) from error


class ResyncRequired(Gone):
    code = "resync_required"
    title = "Sync from zero"


class SyncService:
    def __init__(
        self, session: AsyncSession, actor: Actor, *, rate_limits: RateLimits | None = None
    ) -> None:
        self.session = session
        self.actor = actor
        self.rate_limits = rate_limits

    async def changes(self, cursor_text: str | None, limit: int) -> dict[str, Any]:
        cursor = Cursor.decode(cursor_text)
        if self.rate_limits is not None:
            limits = self.rate_limits
            await (limits.sync_pages if cursor.continues_a_pass else limits.sync).take(self.session)
        if cursor.snapshot is not None:
            return await self._snapshot_page(cursor, limit)
        if not cursor_text:
            # A pass begins: the bound is read with the horizon, before the rows, so that a
            # removal after it shows as a raised bound on the pass's next page.
            horizon, bound = await sync_repo.horizon_and_resync_below(self.session)
            cursor = Cursor(fresh_bound=bound)
        else:
            horizon = await sync_repo.horizon(self.session)
        rows = await sync_repo.log_page(
            self.session,
            self.actor,
            from_txid=cursor.horizon,
            below_txid=horizon,
            after=(cursor.after_txid, cursor.after_seq),
            size=limit + 1,
        )
        if cursor_text:
            # Read after the rows: compaction raises the bound (committed) before it removes
            # a tombstone, so any removal the rows above missed is covered by what this sees.
            resync_below = await sync_repo.resync_below(self.session)
            if cursor.missed_removals(resync_below):
                raise ResyncRequired(
                    "This cursor is older than the change log's history: drop the local copy"
                    " and sync again without a cursor."
                )
        has_more = len(rows) > limit
        rows = rows[:limit]
        joined = next((row for row in rows if _is_join(row)), None)
        if joined is not None:
            # The page ends with the join; the family's contents come in the next pages.
            rows = rows[: rows.index(joined) + 1]
            has_more = True
        found = await self._load(_wanted((row.entity_type, row.entity_id) for row in rows))
        kept = _within_budget([(row.entity_type, row.entity_id) for row in rows], found)
        if kept < len(rows):
            rows, has_more, joined = rows[:kept], True, None
        if joined is not None:
            next_cursor = Cursor(
                cursor.horizon,
                joined.txid,
                joined.seq,
                cursor.fresh_bound,
                Snapshot(joined.family_id),
            )
        elif has_more:
            last = rows[-1]
            next_cursor = Cursor(cursor.horizon, last.txid, last.seq, cursor.fresh_bound)
        else:
            next_cursor = Cursor(max(cursor.horizon, horizon))
        changes = _changes(found, ((row.entity_type, row.entity_id) for row in rows))
        return {"changes": changes, "next_cursor": next_cursor.encode(), "has_more": has_more}

    async def _snapshot_page(self, cursor: Cursor, limit: int) -> dict[str, Any]:
        """The next `limit` entities of a joined family, in (kind, id) order. RLS hides the
        family's rows from a caller who has left it meanwhile: the snapshot then simply ends
        (the log after the join row carries the tombstone)."""
        snapshot = cursor.snapshot
        assert snapshot is not None
        found_ids = await sync_repo.snapshot_ids(
            self.session,
            snapshot.family_id,
            kind=snapshot.kind,
            after_id=snapshot.after_id,
            limit=limit + 1,
        )
        has_more_inside = len(found_ids) > limit
        found_ids = found_ids[:limit]
        keys = [(SNAPSHOT_KINDS[kind], entity_id) for kind, entity_id in found_ids]
        found = await self._load(_wanted(keys))
        kept = _within_budget(keys, found)
        if kept < len(keys):
            found_ids, keys, has_more_inside = found_ids[:kept], keys[:kept], True
        if has_more_inside:
            last_kind, last_id = found_ids[-1]
            position = Snapshot(snapshot.family_id, last_kind, last_id)
            next_cursor = Cursor(
                cursor.horizon, cursor.after_txid, cursor.after_seq, cursor.fresh_bound, position
            )
        else:  # back to the log, right after the join row
            next_cursor = Cursor(
                cursor.horizon, cursor.after_txid, cursor.after_seq, cursor.fresh_bound
            )
        changes = _changes(found, keys)
        return {"changes": changes, "next_cursor": next_cursor.encode(), "has_more": True}

    async def _load(self, wanted: dict[str, set[uuid.UUID]]) -> dict[str, dict[uuid.UUID, Any]]:
        """Current GET shapes of the wanted entities the caller can still see."""
        found: dict[str, dict[uuid.UUID, Any]] = {kind: {} for kind in TYPE_ORDER}
        if wanted["family"]:
            for family, membership in await sync_repo.my_families(
                self.session, self.actor, wanted["family"]
            ):
                found["family"][family.id] = _dump(
                    FamilyRead, FamilyView(family, membership).as_dict()
                )
        if wanted["member"]:
            for member in await sync_repo.members(self.session, wanted["member"]):
                found["member"][member.id] = MemberRead.model_validate(member).model_dump(
                    mode="json"
                )
        if wanted["habit"]:
            habits = await load_habits(self.session, self.actor, list(wanted["habit"]))
            now = datetime.now(UTC)
            versions = await load_versions(self.session, list(habits))
            for habit_id, habit in habits.items():
                # The version in force on the assignee's today, as GET /v1/habits/{id} shows it.
                current = in_force(versions[habit_id], habit.clock.today(now))
                found["habit"][habit_id] = _dump(HabitRead, HabitView(habit, current).as_dict())
        if wanted["habit_version"]:
            for version in await sync_repo.habit_versions(self.session, wanted["habit_version"]):
                found["habit_version"][version.id] = {
                    "id": str(version.id),
                    "habit_id": str(version.habit_id),
                    **HabitVersionRead.model_validate(version).model_dump(mode="json"),
                }
        if wanted["routine"] or wanted["routine_version"]:
            await self._load_routines(wanted, found)
        if wanted["checkin"]:
            for checkin in await sync_repo.checkins(self.session, wanted["checkin"]):
                found["checkin"][checkin.id] = CheckinRead.model_validate(checkin).model_dump(
                    mode="json"
                )
        return found

    async def _load_routines(
        self, wanted: dict[str, set[uuid.UUID]], found: dict[str, dict[uuid.UUID, Any]]
    ) -> None:
        routines = await sync_repo.live_routines(self.session, wanted["routine"])
        # The wanted versions, and the current version of each wanted routine.
        versions = await sync_repo.routine_versions(
            self.session, wanted["routine_version"], current_of=wanted["routine"]
        )
        current = {(v.routine_id, v.number): v for v in versions}
        for routine in routines:
            view = RoutineView(routine, current[(routine.id, routine.current_version)])
            found["routine"][routine.id] = _dump(RoutineRead, view.as_dict())
        for version in versions:
            if version.id in wanted["routine_version"]:
                found["routine_version"][version.id] = {
                    "id": str(version.id),
                    "routine_id": str(version.routine_id),
                    **_dump(RoutineVersionRead, version_dict(version)),
                }


def _wanted(keys: Iterable[tuple[str, uuid.UUID]]) -> dict[str, set[uuid.UUID]]:
    wanted: dict[str, set[uuid.UUID]] = {kind: set() for kind in TYPE_ORDER}
    for kind, entity_id in keys:
        wanted[kind].add(entity_id)
    return wanted


def _within_budget(
    keys: list[tuple[str, uuid.UUID]], found: dict[str, dict[uuid.UUID, Any]]
) -> int:
    """How many of `keys` (in delivery order) fit in PAGE_BYTES; at least one, so a page
    always moves the cursor on. Each entity counts once, by its JSON."""
    counted: set[tuple[str, uuid.UUID]] = set()
    total = 0
    for position, key in enumerate(keys):
        if key in counted:
            continue
        data = found[key[0]].get(key[1])
        total += _CHANGE_OVERHEAD + (len(json.dumps(data, separators=(",", ":"))) if data else 0)
        if total > PAGE_BYTES and position > 0:
            return position
        counted.add(key)
    return len(keys)


def _changes(
    found: dict[str, dict[uuid.UUID, Any]], keys: Iterable[tuple[str, uuid.UUID]]
) -> list[dict[str, Any]]:
    """Each entity once, in its latest state, parents before children; deleted (or no
    longer visible) ones as tombstones."""
    wanted = _wanted(keys)
    changes = []
    for kind in TYPE_ORDER:
        for entity_id in sorted(wanted[kind]):
            data = found[kind].get(entity_id)
            changes.append({"type": kind, "id": entity_id, "deleted": data is None, "data": data})
    return changes


def _is_join(row: SyncChange) -> bool:
    """The row tells the caller they gained a family (a `user_id` row that is no tombstone)."""
    return row.user_id is not None and not row.deleted


def _dump(schema: type[BaseModel], data: object) -> dict[str, Any]:
    """The JSON the resource's own GET sends."""
    return schema.model_validate(data).model_dump(mode="json")
