/**
 * The app's real flows, each a function over the typed client: families, a habit created
 * with a client id, a check-in, the today board, sync from zero and from a cursor, a batch
 * of offline check-ins with one result per item, a stale edit (412) and an outage (503).
 */
import { ApiProblem, type Change, type LoopinClient, type Schemas, retryAfter, unwrap } from "./client.js";

export async function listFamilies(client: LoopinClient): Promise<Schemas["FamilyRead"][]> {
  const families: Schemas["FamilyRead"][] = [];
  let cursor: string | null = null;
  do {
    const page: Schemas["FamilyPage"] = unwrap(
      await client.GET("/v1/families", { params: { query: cursor === null ? {} : { cursor } } }),
    );
    families.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return families;
}

/** Retry-safe: the same id and body again answers the same family (200 instead of 201). */
export async function createFamily(
  client: LoopinClient,
  id: string,
  name: string,
): Promise<Schemas["FamilyRead"]> {
  return unwrap(await client.POST("/v1/families", { body: { id, name, timezone: "Europe/Berlin" } }));
}

export async function createHabit(
  client: LoopinClient,
  familyId: string,
  habit: Schemas["HabitCreate"],
): Promise<{ habit: Schemas["HabitRead"]; etag: string | null; created: boolean }> {
  const result = await client.POST("/v1/families/{family_id}/habits", {
    params: { path: { family_id: familyId } },
    body: habit,
  });
  const created = result.response.status === 201;
  return { habit: unwrap(result), etag: result.response.headers.get("ETag"), created };
}

export async function checkIn(
  client: LoopinClient,
  habitId: string,
  date: string,
  checkin: Schemas["CheckinWrite"],
): Promise<{ checkin: Schemas["CheckinRead"]; created: boolean }> {
  const result = await client.PUT("/v1/habits/{habit_id}/checkins/{date}", {
    params: { path: { habit_id: habitId, date } },
    body: checkin,
  });
  return { checkin: unwrap(result), created: result.response.status === 201 };
}

export async function todayBoard(client: LoopinClient): Promise<Schemas["TodayBoard"]> {
  return unwrap(await client.GET("/v1/me/today"));
}

/** The app's local copy: one map per entity type, keyed by id. */
export interface LocalStore {
  families: Map<string, Schemas["FamilyRead"]>;
  members: Map<string, Schemas["MemberRead"]>;
  habits: Map<string, Schemas["HabitRead"]>;
  habitVersions: Map<string, Schemas["HabitVersionSynced"]>;
  routines: Map<string, Schemas["RoutineRead"]>;
  routineVersions: Map<string, Schemas["RoutineVersionSynced"]>;
  checkins: Map<string, Schemas["CheckinRead"]>;
  cursor: string | null;
}

export function emptyStore(): LocalStore {
  return {
    families: new Map(),
    members: new Map(),
    habits: new Map(),
    habitVersions: new Map(),
    routines: new Map(),
    routineVersions: new Map(),
    checkins: new Map(),
    cursor: null,
  };
}

function put<T>(table: Map<string, T>, id: string, data: T | null): void {
  if (data === null) table.delete(id);
  else table.set(id, data);
}

/** One change into the store: `type` narrows `data` to that entity's read model. */
export function applyChange(store: LocalStore, change: Change): void {
  switch (change.type) {
    case "family":
      return put(store.families, change.id, change.data);
    case "member":
      return put(store.members, change.id, change.data);
    case "habit":
      return put(store.habits, change.id, change.data);
    case "habit_version":
      return put(store.habitVersions, change.id, change.data);
    case "routine":
      return put(store.routines, change.id, change.data);
    case "routine_version":
      return put(store.routineVersions, change.id, change.data);
    case "checkin":
      return put(store.checkins, change.id, change.data);
    default: {
      const unexpected: never = change;
      throw new Error(`a change type this app does not know: ${JSON.stringify(unexpected)}`);
    }
  }
}

/** From the store's cursor (none: everything) until the server has nothing more. */
export async function sync(client: LoopinClient, store: LocalStore): Promise<number> {
  let applied = 0;
  for (;;) {
    const query = store.cursor === null ? {} : { cursor: store.cursor };
    const result = await client.GET("/v1/sync", { params: { query } });
    if (result.error !== undefined && result.error.code === "invalid_cursor") {
      Object.assign(store, emptyStore()); // the server no longer knows our cursor: start over
      continue;
    }
    const page = unwrap(result);
    page.changes.forEach((change) => applyChange(store, change));
    applied += page.changes.length;
    store.cursor = page.next_cursor;
    if (!page.has_more) return applied;
  }
}

export interface BatchOutcome {
  written: Schemas["CheckinRead"][];
  refused: { item: Schemas["BatchCheckinItem"]; problem: Schemas["Problem"] }[];
}

/** What a tablet logged offline, in one call: every item gets its own result. */
export async function uploadCheckins(
  client: LoopinClient,
  items: Schemas["BatchCheckinItem"][],
): Promise<BatchOutcome> {
  const { results } = unwrap(await client.POST("/v1/sync/checkins", { body: { items } }));
  const outcome: BatchOutcome = { written: [], refused: [] };
  results.forEach((result, index) => {
    const item = items[index];
    if (item === undefined) throw new Error("more results than items");
    if (result.checkin !== null) outcome.written.push(result.checkin);
    else if (result.problem !== null) outcome.refused.push({ item, problem: result.problem });
  });
  return outcome;
}

/** An edit made from an old copy: the server answers 412 instead of losing the other edit. */
export async function renameHabit(
  client: LoopinClient,
  habitId: string,
  name: string,
  etag: string,
): Promise<{ renamed: Schemas["HabitRead"] } | { stale: Schemas["Problem"] }> {
  const result = await client.PATCH("/v1/habits/{habit_id}", {
    params: { path: { habit_id: habitId }, header: { "if-match": etag } },
    body: { name },
  });
  if (result.error !== undefined && result.response.status === 412) return { stale: result.error };
  return { renamed: unwrap(result) };
}

/** A call while the database is away: a 503 problem with Retry-After, never a hang. */
export async function tryWhileUnavailable(
  client: LoopinClient,
): Promise<{ board: Schemas["TodayBoard"] } | { unavailable: ApiProblem }> {
  const result = await client.GET("/v1/me/today");
  if (result.error !== undefined && result.response.status === 503) {
    return { unavailable: new ApiProblem(result.error, retryAfter(result.response)) };
  }
  return { board: unwrap(result) };
}
