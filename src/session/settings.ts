/**
 * The SESSION_* settings → one `IssuerRule` per issuer. Pure and free of TypeScript-only syntax, so
 * that the deploy preflight (plain Node) runs the very parser the Worker runs.
 */

import { LIMITS } from "../core/constants.ts";
import { loadedParser } from "../core/problems.ts";
import { byteLength, isOrigin, present } from "../core/setting-values.ts";
import { type IssuerRule, type SpecProblem, secretRule } from "./issuers.ts";

/**
 * The identity providers' presets and the SESSION_ISSUERS list (`providers.ts`): a module of its own,
 * loaded only by a deployment that names a provider (config.ts `loadSettingParsers`).
 */
export type Providers = typeof import("./providers.ts");

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

/**
 * The SESSION_* settings → one rule per issuer (`providers.ts` knows the providers).
 *
 * Either one issuer (SESSION_PROVIDER, SESSION_OIDC_ISSUER or SESSION_JWKS_URL, refined by the
 * other one-issuer settings; SESSION_JWT_SECRET joins that issuer, as during a move from a legacy
 * HS256 secret to the same provider's keys), or the secret alone, or several (SESSION_ISSUERS, where
 * a `{"provider": "secret"}` entry stands for SESSION_JWT_SECRET). Every issuer with public keys has
 * an audience rule, or it is refused. Exported for the deploy preflight, which sees the vars but
 * not the secrets: with `secretKnown` false the secret is neither required nor checked.
 * `providers`: `providers.ts`, which a setting that names a provider needs (`PROVIDER_SETTINGS`).
 */
export function parseSessionSettings(
  env: SessionSettings,
  bad: (name: string, rule: string) => void,
  missing: (name: string) => void,
  providers: Providers | undefined,
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
      ? oneIssuer(env, secret, bad, () => secretKnown && missing("SESSION_JWT_SECRET or SESSION_PROVIDER"), providers)
      : issuerList(env, listText, secret, secretKnown, bad, loadedParser(providers, "SESSION_ISSUERS"));
  return { issuers };
}

/** The settings that name a provider: with one of them set, `parseSessionSettings` needs `providers.ts`. */
export const PROVIDER_SETTINGS = [
  "SESSION_PROVIDER",
  "SESSION_OIDC_ISSUER",
  "SESSION_JWKS_URL",
  "SESSION_ISSUERS",
] as const;

/** SESSION_ISSUERS: several issuers, each entry with its own rules; the one-issuer settings must be unset. */
function issuerList(
  env: SessionSettings,
  listText: string,
  secret: string | undefined,
  secretKnown: boolean,
  bad: (name: string, rule: string) => void,
  providers: Providers,
): IssuerRule[] {
  for (const name of [...ONE_ISSUER, ...ONE_ISSUER_RULES]) {
    if (present(env[name]) !== undefined) bad(name, "leave unset with SESSION_ISSUERS (each entry has its own)");
  }
  return providers.parseIssuerList(listText, secret, secretKnown, bad);
}

/** The one-issuer settings: a provider (the secret joins it), or the secret alone. */
function oneIssuer(
  env: SessionSettings,
  secret: string | undefined,
  bad: (name: string, rule: string) => void,
  noIssuer: () => void,
  providers: Providers | undefined,
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
    rule = loadedParser(providers, setting).issuerRule({ provider, ...spec }, secret);
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
