/**
 * Who may sign app sessions, and by which rules: one `IssuerRule` per issuer. Pure, no I/O.
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

import { isFetchableUrl } from "../core/setting-values.ts";
import { AUTH_TIME, AUTH_TIME_OR_IAT, type SignInRule } from "./sign-in.ts";

/** Where an issuer's public keys come from. */
export type KeySource =
  /** A JSON Web Key Set. */
  | { kind: "jwks"; url: string }
  /** Google's map of key id → PEM X.509 certificate (Firebase's documented key format). */
  | { kind: "x509"; url: string }
  /** The issuer's OpenID discovery document, whose `jwks_uri` is then fetched. */
  | { kind: "discovery"; issuer: string };

/** How one issuer's tokens are verified. */
export interface IssuerRule {
  /** A label for logs and /readyz (the preset's name, or the one given): never a secret. */
  name: string;
  /** The exact `iss`; undefined only for a shared secret that accepts any issuer. */
  issuer: string | undefined;
  /** Public keys, for the asymmetric `algorithms`; undefined for a secret-only issuer. */
  keys: KeySource | undefined;
  /** An HS256 key: the only key HS256 is ever verified with. */
  secret: string | undefined;
  /** Asymmetric algorithms accepted with `keys` (never HS*: a public key is no HMAC secret). */
  algorithms: readonly string[];
  /** Accepted audiences, checked in `audienceClaim`; undefined: no audience rule (secrets only). */
  audience: readonly string[] | undefined;
  /** `aud`, or Cognito access tokens' `client_id`. */
  audienceClaim: "aud" | "client_id";
  /** Accepted `azp` values (Clerk: origins); when set, a token must carry one of them. */
  authorizedParties: readonly string[] | undefined;
  /** The claim that becomes the uid (default `sub`). */
  uidClaim: string;
  /**
   * Put before the claim's value to make the uid: this issuer's uid space. `sub` is unique only
   * within its issuer, so two issuers' users are two users unless their entries share a prefix.
   */
  uidPrefix: string;
  /** How its tokens say when their user signed in (what a revocation is compared with). */
  signIn: SignInRule;
  /** Cognito: the `token_use` a token must carry. */
  tokenUse: "id" | "access" | undefined;
}

/** The presets, by the name written before the colon. */
export const PROVIDERS = ["firebase", "supabase", "auth0", "clerk", "cognito", "keycloak", "oidc", "jwks"] as const;
/** A preset's name. */
export type Provider = (typeof PROVIDERS)[number];

/** Algorithms accepted from an identity provider that does not pin one. `Ed25519` is EdDSA's fully specified name. */
export const ASYMMETRIC_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"] as const;

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

/** A spec that cannot work: `field` is which part (`provider`, `audience`, …), `rule` what it must be. */
export interface SpecProblem {
  field: string;
  rule: string;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
/** Firebase/Google Cloud project ids: lower-case letters, digits and hyphens (older ones may carry a `domain:` prefix). */
const FIREBASE_PROJECT = /^([a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Supabase project refs: 20 lower-case letters. */
const SUPABASE_REF = /^[a-z]{20}$/;
/** Cognito user pool ids embed their region: `eu-west-1_AbCdEf123`. */
const COGNITO_POOL = /^([a-z]{2}(?:-[a-z]+)+-\d{1,2})_[A-Za-z0-9]{1,55}$/;
/** A claim name (also `cognito:username`, or a namespaced URL claim). */
const CLAIM_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;
const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** A uid prefix: empty, or a short label ending in a colon (`staff:`), so such uids read plainly. */
const UID_PREFIX = /^([A-Za-z0-9_.-]{1,32}:)?$/;
/** What `uidPrefix` must be, for problems. */
export const UID_PREFIX_RULE = 'empty, or 1 to 32 of A-Z a-z 0-9 _ . - and a ":" (e.g. "staff:")';

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

/** The rule for an operator's `signInClaim`: `amr` and `fva` by their providers' shapes, any other claim as a time. */
function signInClaimRule(claim: string): SignInRule {
  if (claim === "amr") return { kind: "amr" };
  if (claim === "fva") return { kind: "fva" };
  return { kind: "claim", claim, required: true };
}

/** Problems with the uid-space and sign-in fields every spec may carry. */
function commonProblem(spec: {
  uidPrefix?: string | undefined;
  signInClaim?: string | undefined;
}): SpecProblem | undefined {
  if (spec.uidPrefix !== undefined && !UID_PREFIX.test(spec.uidPrefix))
    return { field: "uidPrefix", rule: UID_PREFIX_RULE };
  if (spec.signInClaim !== undefined && !CLAIM_NAME.test(spec.signInClaim))
    return { field: "signInClaim", rule: "a claim name of letters, digits and _ . : / -" };
  return undefined;
}
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

/**
 * The rule for the shared HS256 secret alone: any issuer unless one is pinned, audience optional
 * (the secret is this app's own, so its tokens are this app's), or what is wrong with it.
 */
export function secretRule(
  secret: string,
  options: {
    issuer?: string | undefined;
    audience?: readonly string[] | undefined;
    uidClaim?: string | undefined;
    name?: string | undefined;
    uidPrefix?: string | undefined;
    signInClaim?: string | undefined;
  },
): IssuerRule | SpecProblem[] {
  const uidClaim = options.uidClaim ?? "sub";
  if (!CLAIM_NAME.test(uidClaim)) return [{ field: "uidClaim", rule: "a claim name of letters, digits and _ . : / -" }];
  if (options.name !== undefined && !NAME.test(options.name))
    return [{ field: "name", rule: "1 to 32 of a-z 0-9 _ - (a label)" }];
  const common = commonProblem(options);
  if (common) return [common];
  return {
    name: options.name ?? "secret",
    issuer: options.issuer,
    keys: undefined,
    secret,
    algorithms: [],
    audience: options.audience,
    audienceClaim: "aud",
    authorizedParties: undefined,
    uidClaim,
    uidPrefix: options.uidPrefix ?? "",
    // The app's own backend: `auth_time` when it puts one in its tokens (the docs ask it to keep the
    // sign-in's in refreshed ones), else `iat`.
    signIn: options.signInClaim === undefined ? AUTH_TIME_OR_IAT : signInClaimRule(options.signInClaim),
    tokenUse: undefined,
  };
}
