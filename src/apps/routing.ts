/**
 * Which NetEase app a token request is for, and whether its session may use it.
 *
 * A request names its app in the path (`/v1/apps/{app}/token`), or names none (`/v1/token`): then
 * the first app whose `match` the session meets serves it, else the home app (the one named
 * `default`, else the first listed). Either way an app with a `match` serves only sessions that meet
 * it: a session of one identity provider cannot get tokens for an app another provider's users
 * own by naming that app, nor fall through to it. Pure: the session is already verified.
 */

import { DomainError } from "../core/errors.ts";
import type { Session } from "../session/verify.ts";
import type { AppMatch } from "./settings.ts";

/** What the choice reads of a session: who verified it, and its claims. */
export type SessionFacts = Pick<Session, "issuer" | "claims">;

/** Whether `session` meets `match` (no match: every session does). A claim must equal the value exactly. */
export function meetsMatch(match: AppMatch | undefined, session: SessionFacts): boolean {
  if (match === undefined) return true;
  if (match.issuer !== undefined && match.issuer !== session.issuer) return false;
  if (match.claim !== undefined && session.claims[match.claim.name] !== match.claim.value) return false;
  return true;
}

/** An app as the choice sees it. */
export interface Choosable {
  readonly config: { readonly name: string; readonly match: AppMatch | undefined };
}

/**
 * The app `session` uses: `named` when the path names one, else the first of `matched` (the apps
 * with a `match`, in order) it meets, else `home`. Throws 403 `app_not_allowed` when the app found
 * has a `match` the session does not meet.
 */
export function chooseApp<A extends Choosable>(
  session: SessionFacts,
  named: A | undefined,
  matched: readonly A[],
  home: A,
): A {
  const app = named ?? matched.find((candidate) => meetsMatch(candidate.config.match, session)) ?? home;
  if (!meetsMatch(app.config.match, session)) {
    throw new DomainError("app_not_allowed", {
      detail: `session of ${session.issuer} may not use app ${app.config.name}`,
    });
  }
  return app;
}
