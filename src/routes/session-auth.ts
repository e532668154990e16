/**
 * The session check for the token endpoints: `Authorization: Bearer <app-session JWT>` → `c.get("uid")`.
 * A missing header, or one without the `Bearer ` scheme, is 401 `missing_session` (whose message
 * shows the expected form); a JWT that fails verification is 401 `invalid_session`.
 */

import type { MiddlewareHandler } from "hono";
import { DomainError } from "../errors.ts";
import type { AppEnv } from "../runtime.ts";
import { parseBearer } from "../session/verify.ts";

/** The context of routes behind `requireSession`: the uid, the session's `iat` (seconds) if any, its claims. */
export type SessionEnv = AppEnv & {
  Variables: { uid: string; sessionIssuedAt: number | undefined; sessionClaims: Readonly<Record<string, unknown>> };
};

/** Verifies the bearer session and sets `c.get("uid")`, `c.get("sessionIssuedAt")` and `c.get("sessionClaims")`. */
export function requireSession(): MiddlewareHandler<SessionEnv> {
  return async function requireSession(c, next) {
    const jwt = parseBearer(c.req.header("Authorization"));
    if (jwt === undefined) throw new DomainError("session_missing", { detail: "no 'Bearer <JWT>' authorization" });
    const { uid, issuedAt, claims } = await c.get("runtime").verifier.verify(jwt);
    c.set("uid", uid);
    c.set("sessionIssuedAt", issuedAt);
    c.set("sessionClaims", claims);
    await next();
  };
}
