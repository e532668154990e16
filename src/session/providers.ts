/**
 * The identity providers' presets, and SESSION_ISSUERS's list: what `issuers.ts`'s rules are made of
 * for an issuer with public keys. Pure, no I/O. A module of its own, loaded only when a setting names
 * a provider (config.ts `loadSettingParsers`): a deployment on a shared secret never compiles it.
 *
 * A preset turns one line (`firebase:<project>`, `auth0:<domain>`, …) into what each identity
 * provider documents for verifying its tokens: where its keys are and in which format, the exact
 * `iss`, the audience rule, the algorithms, the provider's own extra rules (Clerk's `azp`, Cognito's
 * `token_use`), and where its tokens say when the user signed in (`sign-in.ts`). Getting one of these wrong either locks every
 * user out or, worse, lets another app's users in; writing them once here is the point.
 *
 * Sources, checked when this was written:
 * - Firebase, "Verify ID tokens using a third-party JWT library": RS256, keys as an x509
 *   certificate map at googleapis.com, `iss` https://securetoken.google.com/<project>, `aud` the
 *   project, `auth_time` in the past.
 * - Supabase, "JWT Signing Keys": ES256 or RS256 at <project>/auth/v1/.well-known/jwks.json,
 *   `iss` …/auth/v1, `aud` "authenticated" for signed-in users (legacy projects: HS256).
 * - Auth0: https://<domain>/.well-known/jwks.json, `iss` https://<domain>/ (with the slash), `aud`
 *   the API identifier, RS256.
 * - Clerk, "Manual JWT verification": RS256 at <frontend API>/.well-known/jwks.json, `iss` the
 *   frontend API, no `aud`; `azp` is the origin that asked for the token.
 * - Amazon Cognito, "Verifying JSON web tokens": RS256 at
 *   https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json; ID tokens carry
 *   `aud` = the app client id and `token_use` "id", access tokens `client_id` and "access".
 * - Keycloak: <realm>/protocol/openid-connect/certs, `iss` the realm URL.
 * - Any OpenID provider: its discovery document (OpenID Connect Discovery 1.0).
 */

import * as v from "valibot";
import { LIMITS } from "../core/constants.ts";
import { lazy } from "../core/lazy.ts";
import { isFetchableUrl } from "../core/setting-values.ts";
import {
  ASYMMETRIC_ALGORITHMS,
  CLAIM_NAME,
  commonProblem,
  type IssuerRule,
  NAME,
  type SpecProblem,
  secretRule,
  signInClaimRule,
} from "./issuers.ts";
import { AUTH_TIME, AUTH_TIME_OR_IAT, type SignInRule } from "./sign-in.ts";

/** The presets, by the name written before the colon. */
export const PROVIDERS = ["firebase", "supabase", "auth0", "clerk", "cognito", "keycloak", "oidc", "jwks"] as const;
/** A preset's name. */
export type Provider = (typeof PROVIDERS)[number];

/** What an operator wrote for one issuer (one line, or one entry of the list). */
export interface IssuerSpec {
  /** `<provider>:<where>`, e.g. `firebase:my-project`, `oidc:https://idp.example.com`. */
  provider: string;
  /** `jwks` only: the `iss` its tokens carry. */
  issuer?: string | undefined;
  audience?: readonly string[] | undefined;
  authorizedParties?: readonly string[] | undefined;
  uidClaim?: string | undefined;
  tokenUse?: string | undefined;
  name?: string | undefined;
  /** The uid space's prefix (see `IssuerRule.uidPrefix`); default "". */
  uidPrefix?: string | undefined;
  /** A claim with the sign-in time, replacing the provider's own rule (`amr` and `fva` by their shapes). */
  signInClaim?: string | undefined;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
/** Firebase/Google Cloud project ids: lower-case letters, digits and hyphens (older ones may carry a `domain:` prefix). */
const FIREBASE_PROJECT = /^([a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Supabase project refs: 20 lower-case letters. */
const SUPABASE_REF = /^[a-z]{20}$/;
/** Cognito user pool ids embed their region: `eu-west-1_AbCdEf123`. */
const COGNITO_POOL = /^([a-z]{2}(?:-[a-z]+)+-\d{1,2})_[A-Za-z0-9]{1,55}$/;

/** Each preset's sign-in rule (see sign-in.ts for the sources). */
const SIGN_IN_RULES: Record<Provider, SignInRule> = {
  firebase: AUTH_TIME,
  supabase: { kind: "amr" },
  auth0: AUTH_TIME_OR_IAT,
  clerk: { kind: "fva" },
  cognito: AUTH_TIME,
  keycloak: AUTH_TIME,
  oidc: AUTH_TIME_OR_IAT,
  jwks: AUTH_TIME_OR_IAT,
};

const FIREBASE_KEYS = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

/** The rule for one spec, or every problem with it. `secret`, when given, joins the issuer (HS256). */
export function issuerRule(spec: IssuerSpec, secret?: string): IssuerRule | SpecProblem[] {
  const found = presetRule(spec, secret);
  if (!Array.isArray(found) && "field" in found) return [found];
  return found;
}

function presetRule(spec: IssuerSpec, secret: string | undefined): IssuerRule | SpecProblem | SpecProblem[] {
  const colon = spec.provider.indexOf(":");
  const provider = (colon < 0 ? spec.provider : spec.provider.slice(0, colon)) as Provider;
  const where = colon < 0 ? "" : spec.provider.slice(colon + 1).trim();
  if (!PROVIDERS.includes(provider))
    return { field: "provider", rule: `<provider>:<where>, provider one of ${PROVIDERS.join(", ")}` };
  if (spec.name !== undefined && !NAME.test(spec.name))
    return { field: "name", rule: "1 to 32 of a-z 0-9 _ - (a label)" };
  const uidClaim = spec.uidClaim ?? "sub";
  if (!CLAIM_NAME.test(uidClaim)) return { field: "uidClaim", rule: "a claim name of letters, digits and _ . : / -" };
  if (spec.tokenUse !== undefined && provider !== "cognito") return { field: "tokenUse", rule: "only for cognito" };
  if (spec.issuer !== undefined && provider !== "jwks")
    return { field: "issuer", rule: `derived by ${provider}; leave it unset` };
  if (spec.authorizedParties !== undefined && provider !== "clerk")
    return { field: "authorizedParties", rule: "only for clerk" };
  const common = commonProblem(spec);
  if (common) return common;
  const base = {
    name: spec.name ?? provider,
    secret,
    audience: spec.audience,
    audienceClaim: "aud" as const,
    authorizedParties: undefined,
    uidClaim,
    uidPrefix: spec.uidPrefix ?? "",
    signIn: spec.signInClaim === undefined ? SIGN_IN_RULES[provider] : signInClaimRule(spec.signInClaim),
    tokenUse: undefined,
  };
  const needAudience = (rule: IssuerRule): IssuerRule | SpecProblem =>
    rule.audience?.length
      ? rule
      : { field: "audience", rule: `required for ${provider} (${AUDIENCE_HINTS[provider]})` };

  switch (provider) {
    case "firebase": {
      if (!FIREBASE_PROJECT.test(where)) return { field: "provider", rule: "firebase:<project id>" };
      if (spec.audience !== undefined)
        return { field: "audience", rule: "derived by firebase (the project id); leave it unset" };
      const issuer = `https://securetoken.google.com/${where}`;
      return {
        ...base,
        issuer,
        keys: { kind: "x509", url: FIREBASE_KEYS },
        algorithms: ["RS256"],
        audience: [where],
      };
    }
    case "supabase": {
      if (!SUPABASE_REF.test(where)) return { field: "provider", rule: "supabase:<project ref> (20 letters)" };
      const issuer = `https://${where}.supabase.co/auth/v1`;
      return {
        ...base,
        issuer,
        keys: { kind: "jwks", url: `${issuer}/.well-known/jwks.json` },
        algorithms: ["ES256", "RS256"],
        audience: spec.audience ?? ["authenticated"],
      };
    }
    case "auth0": {
      if (!HOSTNAME.test(where)) return { field: "provider", rule: "auth0:<tenant domain, e.g. my-app.eu.auth0.com>" };
      const issuer = `https://${where}/`;
      return needAudience({
        ...base,
        issuer,
        keys: { kind: "jwks", url: `${issuer}.well-known/jwks.json` },
        algorithms: ["RS256"],
      });
    }
    case "clerk": {
      if (!HOSTNAME.test(where))
        return { field: "provider", rule: "clerk:<frontend API host, e.g. clerk.example.com>" };
      const issuer = `https://${where}`;
      const authorizedParties = spec.authorizedParties;
      if (!authorizedParties?.length && !spec.audience?.length) {
        return {
          field: "authorizedParties",
          rule: "required for clerk (the origins of your app, checked against azp)",
        };
      }
      return {
        ...base,
        issuer,
        keys: { kind: "jwks", url: `${issuer}/.well-known/jwks.json` },
        algorithms: ["RS256"],
        authorizedParties,
      };
    }
    case "cognito": {
      const match = COGNITO_POOL.exec(where);
      if (!match) return { field: "provider", rule: "cognito:<user pool id, e.g. eu-west-1_AbC123>" };
      const tokenUse = spec.tokenUse ?? "id";
      if (tokenUse !== "id" && tokenUse !== "access") return { field: "tokenUse", rule: "id or access" };
      const issuer = `https://cognito-idp.${match[1]}.amazonaws.com/${where}`;
      return needAudience({
        ...base,
        issuer,
        keys: { kind: "jwks", url: `${issuer}/.well-known/jwks.json` },
        algorithms: ["RS256"],
        audienceClaim: tokenUse === "id" ? "aud" : "client_id",
        tokenUse,
      });
    }
    case "keycloak": {
      const issuer = where.replace(/\/+$/, "");
      if (!isFetchableUrl(issuer) || !/\/realms\/[^/]+$/.test(issuer)) {
        return { field: "provider", rule: "keycloak:<realm URL, e.g. https://sso.example.com/realms/main>" };
      }
      return needAudience({
        ...base,
        issuer,
        keys: { kind: "jwks", url: `${issuer}/protocol/openid-connect/certs` },
        algorithms: ASYMMETRIC_ALGORITHMS,
      });
    }
    case "oidc": {
      // The issuer is compared byte for byte with the discovery document's and the tokens' `iss`,
      // so it is kept exactly as written (a trailing slash is part of some issuers, Auth0's say).
      if (!isFetchableUrl(where))
        return { field: "provider", rule: "oidc:<issuer URL> (https; http only on loopback)" };
      return needAudience({
        ...base,
        issuer: where,
        keys: { kind: "discovery", issuer: where },
        algorithms: ASYMMETRIC_ALGORITHMS,
      });
    }
    case "jwks": {
      if (!isFetchableUrl(where)) return { field: "provider", rule: "jwks:<JWKS URL> (https; http only on loopback)" };
      // A provider's keys sign tokens for every app of every tenant it serves: without both claims
      // pinned, any of their users would pass.
      const rule = needAudience({
        ...base,
        issuer: spec.issuer ?? "",
        keys: { kind: "jwks", url: where },
        algorithms: ASYMMETRIC_ALGORITHMS,
      });
      if (!spec.issuer)
        return [{ field: "issuer", rule: "required with a JWKS URL" }, ...("field" in rule ? [rule] : [])];
      return rule;
    }
  }
}

const AUDIENCE_HINTS: Record<Provider, string> = {
  firebase: "the project id",
  supabase: "authenticated",
  auth0: "the API identifier",
  clerk: "a custom aud, or the allowed azp origins",
  cognito: "the app client id",
  keycloak: "the client id an audience mapper puts in aud",
  oidc: "the client id or API identifier in aud",
  jwks: "the aud your app's tokens carry",
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
 * SESSION_ISSUERS: several issuers, each entry with its own rules (session/settings.ts checks that
 * the one-issuer settings are unset). `secretKnown` false: the preflight, which sees no secrets.
 */
export function parseIssuerList(
  listText: string,
  secret: string | undefined,
  secretKnown: boolean,
  bad: (name: string, rule: string) => void,
): IssuerRule[] {
  const issuers: IssuerRule[] = [];
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
