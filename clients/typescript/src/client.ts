/**
 * A Loopin client as the mobile app would write one: openapi-fetch over the types that
 * openapi-typescript generates from openapi.json (`src/schema.d.ts`, made by `make client`).
 * Nothing here is typed by hand: every body, parameter, answer and error code comes from
 * the document, so a change of the contract that breaks the app breaks this build.
 */
import createClient, { type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type ProblemCode = Problem["code"];
export type Change = Schemas["SyncPage"]["changes"][number];
export type LoopinClient = ReturnType<typeof createClient<paths>>;

/** A client that sends the Supabase access token on every request. */
export function loopinClient(baseUrl: string, accessToken: string): LoopinClient {
  const client = createClient<paths>({ baseUrl });
  const bearer: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${accessToken}`);
      return request;
    },
  };
  client.use(bearer);
  return client;
}

/** A failed call, with the problem the API answered (its `code` is a typed union). */
export class ApiProblem extends Error {
  constructor(
    readonly problem: Problem,
    readonly retryAfterSeconds: number | null,
  ) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
  }
}

/** Seconds from `Retry-After` (sent with every 503 and 429), or null. */
export function retryAfter(response: Response): number | null {
  const header = response.headers.get("Retry-After");
  if (header === null) return null;
  const seconds = Number.parseInt(header, 10);
  return Number.isNaN(seconds) ? null : seconds;
}

/** The data of a call, or an ApiProblem carrying its typed problem. */
export function unwrap<T>(
  result: { data: T; error?: never; response: Response } | { data?: never; error: Problem; response: Response },
): T {
  if (result.error !== undefined) {
    throw new ApiProblem(result.error, retryAfter(result.response));
  }
  return result.data;
}

/** What the app tells a person for a problem: codes switched over, the rest by status. */
export function advice(problem: Problem): string {
  switch (problem.code) {
    case "version_mismatch":
    case "precondition_failed":
      return "Someone else changed this; showing the latest version.";
    case "database_unavailable":
    case "database_busy":
    case "service_unavailable":
      return "Loopin is busy; your change is kept and sent again shortly.";
    case "date_in_future":
    case "before_start":
    case "outside_backfill_window":
      return "That day cannot be logged.";
    case "invalid_cursor":
      return "Starting a fresh sync.";
    default:
      return problem.detail;
  }
}
