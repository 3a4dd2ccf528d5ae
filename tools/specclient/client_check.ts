// What a client generated from docs/openapi.yaml must be able to write without a cast, an `in`
// check or a non-null assertion (issue 20). `make lint` generates generated/openapi.d.ts with
// openapi-typescript and type-checks this file against it with tsc; it is never run.
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./generated/openapi";

type Schemas = components["schemas"];
const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

// Every operation documents the 400 `bad_request` (a request the server could not parse) with
// the Error shape, and `X-Request-ID` on every answer. A mistake names the operation.
type Responses<Op> = Op extends { responses: infer R } ? R[keyof R] : never;
type Without400 = {
  [K in keyof operations]: operations[K]["responses"] extends {
    400: { content: { "application/json": Schemas["Error"] } };
  }
    ? never
    : K;
}[keyof operations];
type WithoutRequestId = {
  [K in keyof operations]: [
    Exclude<Responses<operations[K]>, { headers: { "X-Request-ID": string } }>,
  ] extends [never]
    ? never
    : K;
}[keyof operations];
export const everyOperationDocuments400: [Without400] extends [never] ? true : Without400 = true;
export const everyAnswerHasARequestId: [WithoutRequestId] extends [never]
  ? true
  : WithoutRequestId = true;

export async function errorCodeOfAPublicRead(): Promise<string | null> {
  const { error } = await api.GET("/legal");
  return error ? error.error.code : null; // `error` is the Error shape, not `never`
}

export async function requestIdOf(): Promise<string> {
  type MeAnswer = operations["getMe"]["responses"][200];
  const headers: MeAnswer["headers"] = { "X-Request-ID": "abc" };
  return headers["X-Request-ID"];
}

export function challengeOf(
  headers: operations["getMe"]["responses"][401]["headers"],
): "Bearer" {
  return headers["WWW-Authenticate"];
}

// Each page types its own items (no `unknown[]` from a shared base).
export async function walkDistances(userId: string): Promise<number[]> {
  const { data } = await api.GET("/users/{id}/walks", { params: { path: { id: userId } } });
  return data ? data.items.map((walk) => walk.distance_m) : [];
}

export async function requesterNames(): Promise<string[]> {
  const { data } = await api.GET("/me/follow-requests");
  return data ? data.items.map((requester) => requester.nickname + requester.requested_at) : [];
}

export async function unread(): Promise<number> {
  const { data } = await api.GET("/notifications");
  if (!data) return 0;
  const types = data.items.map((n) => (n.type === "walk_commented" ? n.data.comment_id : n.id));
  return data.unread_count + types.length;
}

// Notification settings list their types: each is a property, and a typo is refused.
export async function likesPushed(): Promise<boolean> {
  const { data } = await api.GET("/me/notification-settings");
  return data ? data.push.walk_liked && data.push.invitation_received : false;
}

export async function switchLikesOff(): Promise<void> {
  await api.PATCH("/me/notification-settings", { body: { push: { walk_liked: false } } });
  // @ts-expect-error: not a notification type
  const typo: Schemas["NotificationSettingsPatch"] = { push: { walk_likd: false } };
  await api.PATCH("/me/notification-settings", { body: typo });
}

// Follow answers (200, 201, 202) narrow on `status`.
export async function follow(userId: string): Promise<string> {
  const { data, error } = await api.POST("/users/{id}/follow", {
    params: { path: { id: userId } },
  });
  if (error) return error.error.code;
  if (data.status === "following") return `${data.user_id} has ${data.follower_count} followers`;
  return data.status; // "requested"
}

// The feed page and the `since` poll narrow on `kind`.
export async function feed(since?: string): Promise<string> {
  const { data } = await api.GET("/feed", { params: { query: since ? { since } : {} } });
  if (!data) return "";
  if (data.kind === "since") return `${data.new_count} new, next poll since ${data.latest_cursor}`;
  return `${data.items.length} walks, next page before ${data.next_cursor ?? "none"}`;
}
