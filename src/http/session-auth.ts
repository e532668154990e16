/**
 * The session check for the token endpoints: `Authorization: Bearer <app-session JWT>` → `c.get("uid")`.
 * A missing header, or one without the `Bearer ` scheme, is 401 `missing_session` (whose message
 * shows the expected form); a JWT that fails verification is 401 `invalid_session`.
 */

import type { MiddlewareHandler } from "hono";
import { DomainError } from "../core/errors.ts";
import type { Runtime } from "../runtime.ts";
import { parseBearer, type Session } from "../session/verify.ts";
import type { AppEnv } from "./context.ts";

/** The verified session of an `Authorization` header value; 401 `missing_session` or `invalid_session` otherwise. */
export function sessionOf(authorization: string | null | undefined, runtime: Runtime): Promise<Session> {
  const jwt = parseBearer(authorization ?? undefined);
  if (jwt === undefined) throw new DomainError("missing_session", { detail: "no 'Bearer <JWT>' authorization" });
  return runtime.verifier.verify(jwt);
}

/** The context of routes behind `requireSession`: the uid, when its user signed in (ms) if known, its claims, its issuer. */
export type SessionEnv = AppEnv & {
  Variables: {
    uid: string;
    sessionSignedInAt: number | undefined;
    sessionClaims: Readonly<Record<string, unknown>>;
    sessionIssuer: string;
  };
};

/** Verifies the bearer session and sets `c.get("uid")`, `c.get("sessionSignedInAt")`, `c.get("sessionClaims")` and `c.get("sessionIssuer")`. */
export function requireSession(): MiddlewareHandler<SessionEnv> {
  return async function requireSession(c, next) {
    const { uid, signedInAt, claims, issuer } = await sessionOf(c.req.header("Authorization"), c.get("runtime"));
    c.set("uid", uid);
    c.set("sessionIssuer", issuer);
    c.set("sessionSignedInAt", signedInAt);
    c.set("sessionClaims", claims);
    await next();
  };
}
