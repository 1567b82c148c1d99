/**
 * Runs the example flows against a live server and checks what the app relies on.
 * `node dist/live.js flows` with LOOPIN_API_URL and LOOPIN_TOKEN set; then, with the
 * server's database stopped, `node dist/live.js outage`. Driven by `run-live.sh`.
 */
import { randomUUID } from "node:crypto";

import { ApiProblem, advice, loopinClient } from "./client.js";
import {
  checkIn,
  createFamily,
  createHabit,
  emptyStore,
  listFamilies,
  renameHabit,
  sync,
  todayBoard,
  tryWhileUnavailable,
  uploadCheckins,
} from "./flows.js";

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`live check failed: ${what}`);
  console.log(`ok - ${what}`);
}

function isoDay(daysAgo: number): string {
  return new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
}

function setting(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`set ${name}`);
  return value;
}

async function flows(): Promise<void> {
  const client = loopinClient(setting("LOOPIN_API_URL"), setting("LOOPIN_TOKEN"));

  const familyId = randomUUID();
  const family = await createFamily(client, familyId, "The TypeScripts");
  const again = await createFamily(client, familyId, "The TypeScripts");
  check(family.id === familyId && again.version === family.version, "retried create is the same family");
  check((await listFamilies(client)).some((f) => f.id === familyId), "the family is listed");

  const habitId = randomUUID();
  const { habit, etag, created } = await createHabit(client, familyId, {
    id: habitId,
    name: "Read",
    assignee_id: family.my_member_id,
    type: "numeric",
    target_value: 20,
    unit: "pages",
    schedule: { kind: "daily" },
    start_date: isoDay(7),
  });
  check(created && habit.id === habitId && habit.schedule.kind === "daily", "habit created with a client id");
  check(etag === `"${habit.version}"`, "the habit's ETag is its version");

  const today = isoDay(0);
  const first = await checkIn(client, habitId, today, { status: "done", value: 12.5 });
  const replaced = await checkIn(client, habitId, today, { status: "done", value: 21 });
  check(first.created && !replaced.created && replaced.checkin.value === 21, "check-in PUT: 201, then 200");

  const board = await todayBoard(client);
  const onBoard = board.habits.find((h) => h.habit_id === habitId);
  check(onBoard?.status === "done" && onBoard.schedule_kind === "daily", "today board shows the check-in");

  const store = emptyStore();
  await sync(client, store);
  check(store.habits.get(habitId)?.name === "Read" && store.families.has(familyId), "sync from zero");

  const outcome = await uploadCheckins(client, [
    { habit_id: habitId, date: isoDay(1), status: "done", value: 20 },
    { habit_id: habitId, date: isoDay(2), status: "skipped", note: "ill" },
    { habit_id: habitId, date: isoDay(-3), status: "done", value: 1 },
  ]);
  const refusal = outcome.refused[0]?.problem;
  check(outcome.written.length === 2 && refusal?.code === "date_in_future", "batch: one result per item");
  console.log(`  the app would say: ${refusal === undefined ? "" : advice(refusal)}`);

  const applied = await sync(client, store);
  check(applied === 2 && store.checkins.size === 3, "sync from a cursor brings only what changed");

  const renamed = await renameHabit(client, habitId, "Read more", etag ?? "");
  check("renamed" in renamed && renamed.renamed.name === "Read more", "rename with a fresh If-Match");
  const stale = await renameHabit(client, habitId, "Read less", etag ?? "");
  check("stale" in stale && stale.stale.code === "version_mismatch", "a stale If-Match is a 412");
}

async function outage(): Promise<void> {
  const client = loopinClient(setting("LOOPIN_API_URL"), setting("LOOPIN_TOKEN"));
  const result = await tryWhileUnavailable(client);
  check("unavailable" in result, "the database is away: a problem, not a board");
  if ("unavailable" in result) {
    const problem: ApiProblem = result.unavailable;
    check(problem.problem.status === 503 && problem.retryAfterSeconds !== null, "503 with Retry-After");
    console.log(`  the app would say: ${advice(problem.problem)}`);
  }
}

const mode = process.argv[2];
const run = mode === "flows" ? flows : mode === "outage" ? outage : null;
if (run === null) {
  console.error("usage: node dist/live.js flows|outage");
  process.exit(2);
}
run().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
