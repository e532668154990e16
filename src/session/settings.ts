/**
 * The SESSION_* settings → one `IssuerRule` per issuer. Pure and free of TypeScript-only syntax, so
 * that the deploy preflight (plain Node) runs the very parser the Worker runs.
 */

import * as v from "valibot";
import { LIMITS } from "../core/constants.ts";
import { lazy } from "../core/lazy.ts";
import { byteLength, isOrigin, present } from "../core/setting-values.ts";
import { type IssuerRule, issuerRule, type SpecProblem, secretRule } from "./issuers.ts";

/** The settings `parseSessionSettings` reads (env.ts's Env has each of them). */
export type SessionSettings = Partial<
  Record<
    | "SESSION_JWT_SECRET"
    | "SESSION_PROVIDER"
    | "SESSION_OIDC_ISSUER"
    | "SESSION_JWKS_URL"
    | "SESSION_JWT_ISSUER"
    | "SESSION_JWT_AUDIENCE"
    | "SESSION_AUTHORIZED_PARTIES"
    | "SESSION_TOKEN_USE"
    | "SESSION_UID_CLAIM"
    | "SESSION_SIGN_IN_CLAIM"
    | "SESSION_ISSUERS",
    string
  >
>;

/** How app-session JWTs are verified: one rule per issuer (at most one without a pinned issuer). */
export interface SessionConfig {
  issuers: readonly IssuerRule[];
}

/** The one-issuer settings that say where the keys are; at most one of them. */
const ONE_ISSUER = ["SESSION_PROVIDER", "SESSION_OIDC_ISSUER", "SESSION_JWKS_URL"] as const;
/** The one-issuer settings that refine it; with SESSION_ISSUERS each entry carries its own. */
const ONE_ISSUER_RULES = [
  "SESSION_JWT_ISSUER",
  "SESSION_JWT_AUDIENCE",
  "SESSION_AUTHORIZED_PARTIES",
  "SESSION_TOKEN_USE",
  "SESSION_UID_CLAIM",
  "SESSION_SIGN_IN_CLAIM",
] as const;
/** Which setting a one-issuer spec's field came from, to name it in a problem. */
const SPEC_FIELDS: Record<string, keyof SessionSettings> = {
  issuer: "SESSION_JWT_ISSUER",
  audience: "SESSION_JWT_AUDIENCE",
  authorizedParties: "SESSION_AUTHORIZED_PARTIES",
  tokenUse: "SESSION_TOKEN_USE",
  uidClaim: "SESSION_UID_CLAIM",
  signInClaim: "SESSION_SIGN_IN_CLAIM",
};

/** One entry of SESSION_ISSUERS: the one-issuer settings as fields, `provider` may also be `secret`. */
const issuerEntrySchema = lazy(() => {
  const text = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(512));
  return v.strictObject({
    provider: text,
    name: v.optional(text),
    issuer: v.optional(text),
    audience: v.optional(v.union([text, v.pipe(v.array(text), v.minLength(1), v.maxLength(16))])),
    authorizedParties: v.optional(v.pipe(v.array(text), v.minLength(1), v.maxLength(16))),
    uidClaim: v.optional(text),
    tokenUse: v.optional(text),
    // May be empty (the uid space with no prefix), so not `text`.
    uidPrefix: v.optional(v.pipe(v.string(), v.maxLength(64))),
    signInClaim: v.optional(text),
  });
});
const issuersSchema = lazy(() => v.pipe(v.array(v.unknown()), v.minLength(1), v.maxLength(LIMITS.maxSessionIssuers)));

/**
 * The SESSION_* settings → one rule per issuer (`session/issuers.ts` knows the providers).
 *
 * Either one issuer (SESSION_PROVIDER, SESSION_OIDC_ISSUER or SESSION_JWKS_URL, refined by the
 * other one-issuer settings; SESSION_JWT_SECRET joins that issuer, as during a move from a legacy
 * HS256 secret to the same provider's keys), or the secret alone, or several (SESSION_ISSUERS, where
 * a `{"provider": "secret"}` entry stands for SESSION_JWT_SECRET). Every issuer with public keys has
 * an audience rule, or it is refused. Exported for the deploy preflight, which sees the vars but
 * not the secrets: with `secretKnown` false the secret is neither required nor checked.
 */
export function parseSessionSettings(
  env: SessionSettings,
  bad: (name: string, rule: string) => void,
  missing: (name: string) => void,
  secretKnown = true,
): SessionConfig {
  const secret = env.SESSION_JWT_SECRET || undefined;
  if (secret && byteLength(secret) < LIMITS.minSecretBytes) {
    // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
    bad("SESSION_JWT_SECRET", `at least ${LIMITS.minSecretBytes} bytes`);
  }
  const listText = present(env.SESSION_ISSUERS);
  const issuers =
    listText === undefined
      ? oneIssuer(env, secret, bad, () => secretKnown && missing("SESSION_JWT_SECRET or SESSION_PROVIDER"))
      : issuerList(env, listText, secret, secretKnown, bad);
  return { issuers };
}

/** SESSION_ISSUERS: several issuers, each entry with its own rules; the one-issuer settings must be unset. */
function issuerList(
  env: SessionSettings,
  listText: string,
  secret: string | undefined,
  secretKnown: boolean,
  bad: (name: string, rule: string) => void,
): IssuerRule[] {
  const issuers: IssuerRule[] = [];
  for (const name of [...ONE_ISSUER, ...ONE_ISSUER_RULES]) {
    if (present(env[name]) !== undefined) bad(name, "leave unset with SESSION_ISSUERS (each entry has its own)");
  }
  let entries: unknown;
  try {
    entries = JSON.parse(listText);
  } catch {
    entries = undefined;
  }
  const list = v.safeParse(issuersSchema(), entries);
  if (!list.success) {
    bad("SESSION_ISSUERS", `a JSON list of 1 to ${LIMITS.maxSessionIssuers} issuer entries`);
    return issuers;
  }
  list.output.forEach((raw, index) => {
    const at = `entry ${index + 1}`;
    const entry = v.safeParse(issuerEntrySchema(), raw);
    if (!entry.success) {
      const field = entry.issues[0].path?.map((step) => String(step.key)).join(".") ?? "";
      bad("SESSION_ISSUERS", `${at}: ${field || "the entry"} is not allowed or not a non-empty string`);
      return;
    }
    const { provider, audience, ...rest } = entry.output;
    const audiences = typeof audience === "string" ? [audience] : audience;
    if (list.output.length > 1 && rest.uidPrefix === undefined) {
      // `sub` is unique only within its issuer: two entries' users must not meet by accident.
      bad(
        "SESSION_ISSUERS",
        `${at}: uidPrefix is required with several issuers (a prefix of its own keeps its users apart; the same one on two entries shares their users; "" keeps today's uids)`,
      );
    }
    if (provider === "secret") {
      if (rest.authorizedParties || rest.tokenUse)
        bad("SESSION_ISSUERS", `${at}: a secret takes issuer, audience, uidClaim, uidPrefix, signInClaim, name`);
      if (!secret && secretKnown) bad("SESSION_ISSUERS", `${at}: the secret entry needs SESSION_JWT_SECRET`);
    }
    const rule =
      provider === "secret"
        ? secretRule(secret ?? "", { ...rest, audience: audiences })
        : issuerRule({ provider, ...rest, audience: audiences });
    if (!Array.isArray(rule)) issuers.push(rule);
    else for (const problem of rule) bad("SESSION_ISSUERS", `${at}: ${problem.field} must be ${problem.rule}`);
  });
  // An entry for the secret that is itself refused above already names SESSION_ISSUERS.
  const secretEntry = list.output.some((raw) => (raw as { provider?: unknown } | null)?.provider === "secret");
  if (secret && !secretEntry) {
    bad("SESSION_JWT_SECRET", 'unused: add {"provider": "secret"} to SESSION_ISSUERS, or unset it');
  }
  const seen = { issuers: new Set<string | undefined>(), names: new Set<string>() };
  for (const rule of issuers) {
    if (seen.issuers.has(rule.issuer)) bad("SESSION_ISSUERS", "each issuer once (and one secret without an issuer)");
    if (seen.names.has(rule.name)) bad("SESSION_ISSUERS", `distinct names: give entries of one provider a "name"`);
    seen.issuers.add(rule.issuer);
    seen.names.add(rule.name);
  }
  return issuers;
}

/** The one-issuer settings: a provider (the secret joins it), or the secret alone. */
function oneIssuer(
  env: SessionSettings,
  secret: string | undefined,
  bad: (name: string, rule: string) => void,
  noIssuer: () => void,
): IssuerRule[] {
  const where = ONE_ISSUER.filter((name) => present(env[name]) !== undefined);
  if (where.length > 1) {
    bad(where[1]!, `set one of ${ONE_ISSUER.join(", ")} (several issuers: SESSION_ISSUERS)`);
    return [];
  }
  const audience = commaList(env.SESSION_JWT_AUDIENCE);
  const authorizedParties = commaList(env.SESSION_AUTHORIZED_PARTIES);
  if (authorizedParties?.some((origin) => !isOrigin(origin))) {
    bad("SESSION_AUTHORIZED_PARTIES", "comma-separated origins like https://app.example.com");
  }
  const spec = {
    issuer: present(env.SESSION_JWT_ISSUER),
    audience,
    authorizedParties,
    uidClaim: present(env.SESSION_UID_CLAIM),
    tokenUse: present(env.SESSION_TOKEN_USE),
    signInClaim: present(env.SESSION_SIGN_IN_CLAIM),
  };
  const setting = where[0];
  let rule: IssuerRule | SpecProblem[];
  if (setting === undefined) {
    if (!secret) {
      noIssuer();
      return [];
    }
    for (const name of ["SESSION_AUTHORIZED_PARTIES", "SESSION_TOKEN_USE"] as const) {
      if (present(env[name]) !== undefined) bad(name, "only with SESSION_PROVIDER (clerk, cognito)");
    }
    rule = secretRule(secret, spec);
  } else {
    const value = present(env[setting])!;
    if (setting === "SESSION_PROVIDER" && /^(oidc|jwks):/.test(value)) {
      bad(setting, "a named provider (an OpenID issuer goes in SESSION_OIDC_ISSUER, a JWKS URL in SESSION_JWKS_URL)");
      return [];
    }
    const provider =
      setting === "SESSION_PROVIDER" ? value : setting === "SESSION_OIDC_ISSUER" ? `oidc:${value}` : `jwks:${value}`;
    rule = issuerRule({ provider, ...spec }, secret);
  }
  if (!Array.isArray(rule)) return [rule];
  for (const { field, rule: text } of rule) bad(field === "provider" ? setting! : SPEC_FIELDS[field]!, text);
  return [];
}

/** A comma-separated setting as a list, or undefined when empty. */
function commaList(raw: string | undefined): string[] | undefined {
  const items = (raw ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
}
