/**
 * What `npm run setup` needs to know and where it finds it. Each value comes, first found first,
 * from a command-line flag, an environment variable, wrangler.jsonc (or, for a secret, the fact that
 * `wrangler secret list` already lists it), and only then from a question on the terminal. Under
 * `--yes` nothing is ever asked: a value still missing is an error naming its variable, so CI fails
 * fast and clearly instead of hanging on a prompt.
 *
 * Settings are checked by the Worker's own rules where it has them (`parseSessionSettings`, the
 * parser the Worker and the deploy preflight run), so setup never writes what the Worker would
 * refuse. Secrets setup makes itself (ACCID_SECRET, ADMIN_TOKEN) come from the OS's CSPRNG.
 */

import { randomBytes } from "node:crypto";
import { createInterface, type Interface } from "node:readline/promises";
import { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { publicValueKind } from "../src/core/published.ts";
import * as providers from "../src/session/providers.ts";
import { parseSessionSettings, type SessionSettings } from "../src/session/settings.ts";
import { varValue, type WranglerFile } from "./setup-config.ts";
import { type SecretName, SetupError } from "./setup-wrangler.ts";

/** What the command line says. */
export interface SetupOptions {
  /** Never ask: every value from flags, the environment or wrangler.jsonc. */
  yes: boolean;
  config: string | undefined;
  appKey: string | undefined;
  region: string | undefined;
  provider: string | undefined;
  audience: string | undefined;
  authorizedParties: string | undefined;
  /** --admin / --no-admin; undefined when neither is given. */
  admin: boolean | undefined;
  url: string | undefined;
  help: boolean;
}

/** `npm run setup -- --help`. */
export const USAGE = `npm run setup [-- options]   (node scripts/setup.ts [options])

Checks the login, then the KV namespace, vars, secrets, deploy and /readyz: each step acts only
when something is not yet right. Asks for what it cannot find, unless --yes.

  --yes, -y                  never ask: values come from flags and environment variables
                             (NIM_APP_KEY, NIM_REGION, SESSION_PROVIDER, SESSION_JWT_AUDIENCE,
                             SESSION_AUTHORIZED_PARTIES, NIM_APP_SECRET, SESSION_JWT_SECRET,
                             SETUP_ADMIN=1|0, WORKER_URL) or wrangler.jsonc
  --config <path>            the Wrangler file (default: wrangler.jsonc here)
  --app-key <key>            NIM_APP_KEY
  --region cn|sg             NIM_REGION (default cn)
  --provider <preset:where>  SESSION_PROVIDER: firebase, supabase, auth0, clerk, cognito, keycloak
                             or oidc; "" when your own backend signs HS256 sessions
  --audience <aud>           SESSION_JWT_AUDIENCE (auth0, cognito, keycloak, oidc)
  --authorized-parties <o>   SESSION_AUTHORIZED_PARTIES (clerk: your app's origins)
  --admin, --no-admin        turn the admin API on (setup generates ADMIN_TOKEN into .admin-token)
  --url <url>                the Worker's URL, for the /readyz check (default: what deploy prints)`;

/** Parses setup's command line; throws a SetupError for an unknown or malformed option. */
export function parseOptions(argv: readonly string[]): SetupOptions {
  try {
    const { values } = parseArgs({
      args: [...argv],
      allowNegative: true,
      options: {
        yes: { type: "boolean", short: "y" },
        config: { type: "string" },
        "app-key": { type: "string" },
        region: { type: "string" },
        provider: { type: "string" },
        audience: { type: "string" },
        "authorized-parties": { type: "string" },
        admin: { type: "boolean" },
        url: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    return {
      yes: values.yes ?? false,
      config: values.config,
      appKey: values["app-key"],
      region: values.region,
      provider: values.provider,
      audience: values.audience,
      authorizedParties: values["authorized-parties"],
      admin: values.admin,
      url: values.url,
      help: values.help ?? false,
    };
  } catch (error) {
    throw new SetupError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

/** Asks one question; resolves undefined when the input has ended. */
export interface Asker {
  ask(question: string, hidden: boolean): Promise<string | undefined>;
}

/**
 * Questions on the terminal, answers read line by line from stdin (a pipe works too: lines are
 * buffered, so answers written before their question are not lost). A hidden answer is not echoed:
 * readline's output goes through a stream that drops what it is given while an answer is hidden.
 */
export class Prompter implements Asker {
  #muted = false;
  readonly #output: NodeJS.WriteStream;
  readonly #readline: Interface;
  readonly #lines: AsyncIterator<string>;

  constructor(input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stdout) {
    this.#output = output;
    const echo = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        if (!this.#muted) output.write(chunk);
        done();
      },
    });
    // historySize 0: a hidden answer must not come back with the up arrow at the next question.
    this.#readline = createInterface({ input, output: echo, terminal: Boolean(input.isTTY), historySize: 0 });
    // Without a listener readline only pauses on Ctrl-C, and setup would end quietly with status 0.
    this.#readline.on("SIGINT", () => {
      this.#readline.close();
      output.write("\n");
      process.exit(130);
    });
    this.#lines = this.#readline[Symbol.asyncIterator]();
  }

  async ask(question: string, hidden: boolean): Promise<string | undefined> {
    this.#output.write(question);
    this.#muted = hidden;
    const line = await this.#lines.next();
    this.#muted = false;
    // The Enter of a hidden answer was not echoed, and a piped answer never is.
    if (hidden || !this.#readline.terminal) this.#output.write("\n");
    return line.done ? undefined : line.value;
  }

  close(): void {
    this.#readline.close();
  }
}

/** The presets setup offers for SESSION_PROVIDER (`jwks` needs more than one line: docs/identity-providers.md). */
const PRESETS = ["firebase", "supabase", "auth0", "clerk", "cognito", "keycloak", "oidc"] as const;
/** Presets whose tokens' audience must be given (the Worker refuses them without one). */
const AUDIENCE_HINTS: Record<string, string> = {
  auth0: "the API identifier",
  cognito: "the app client id",
  keycloak: "the client id an audience mapper puts in aud",
  oidc: "the client id or API identifier in aud",
};
/** The vars setup manages, in the order it writes them. */
export const MANAGED_VARS = [
  "NIM_APP_KEY",
  "NIM_REGION",
  "SESSION_PROVIDER",
  "SESSION_OIDC_ISSUER",
  "SESSION_JWT_AUDIENCE",
  "SESSION_AUTHORIZED_PARTIES",
] as const;
/** The SESSION_* vars the Worker's parser reads beside the ones setup manages. */
const OTHER_SESSION_VARS = [
  "SESSION_JWKS_URL",
  "SESSION_JWT_ISSUER",
  "SESSION_TOKEN_USE",
  "SESSION_UID_CLAIM",
  "SESSION_SIGN_IN_CLAIM",
  "SESSION_ISSUERS",
] as const;

/** A secret setup is to put, with where its value came from (a generated one is setup's to keep). */
export interface SecretToPut {
  name: SecretName;
  value: string;
  generated: boolean;
}

/** Everything setup gathered. */
export interface Gathered {
  /** The managed vars' values as they are to be in wrangler.jsonc. */
  vars: Record<string, string>;
  /** Who signs sessions, for the output: never a secret. */
  identity: string;
  /** The secrets to put, in order; a listed secret is never here. */
  secrets: SecretToPut[];
  /** Every secret this configuration needs, listed already or to put. */
  needed: SecretName[];
  /** Whether the admin API is on (ADMIN_TOKEN listed, or put now). */
  admin: boolean;
}

/** What `gather` reads from. */
export interface GatherContext {
  options: SetupOptions;
  env: NodeJS.ProcessEnv;
  file: WranglerFile;
  /** The secret names `wrangler secret list` lists (none before the first deploy). */
  listed: ReadonlySet<string>;
  /** The terminal, made on first use; undefined under --yes. */
  asker: (() => Asker) | undefined;
}

/** How many times a question is asked again after an answer that breaks its rule. */
const TRIES = 3;

/** One value to find: its name, its sources in order, and its rule. */
interface Wanted {
  name: string;
  flag?: string | undefined;
  /** Its flag's spelling, to say where a bad value came from. */
  flagName?: string;
  current?: string;
  question: string;
  hidden?: boolean;
  /** The value of an empty answer, and of a missing one under --yes. */
  fallback?: string;
  /** The rule `value` breaks, or undefined when it is fine. */
  check: (value: string) => string | undefined;
}

/**
 * Finds every value setup needs. Under --yes, all missing names are reported at once; a value that
 * breaks its rule is reported with the rule (never with the value, which may be a secret).
 */
export async function gather(context: GatherContext): Promise<Gathered> {
  const { options, env, file, listed } = context;
  const missing: string[] = [];
  let asker: Asker | undefined;
  const terminal = (): Asker | undefined => {
    asker ??= context.asker?.();
    return asker;
  };
  const fromEnv = (name: string): string | undefined => (env[name] === "" ? undefined : env[name]);

  async function find(wanted: Wanted): Promise<string | undefined> {
    const sources: [string | undefined, string][] = [
      [wanted.flag, wanted.flagName ?? "its flag"],
      [fromEnv(wanted.name), "the environment"],
      [wanted.current || undefined, "wrangler.jsonc"],
    ];
    for (const [value, where] of sources) {
      if (value === undefined) continue;
      const broken = wanted.check(value.trim());
      if (broken) throw new SetupError(`${wanted.name} (from ${where}) must be ${broken}.`);
      return value.trim();
    }
    const questions = terminal();
    if (!questions) {
      if (wanted.fallback !== undefined) return wanted.fallback;
      missing.push(wanted.name);
      return undefined;
    }
    for (let attempt = 0; attempt < TRIES; attempt++) {
      const suffix = wanted.fallback ? ` [${wanted.fallback}]` : "";
      const answer = await questions.ask(`${wanted.question}${suffix}: `, wanted.hidden ?? false);
      if (answer === undefined) {
        throw new SetupError(
          `no answer for ${wanted.name}: the input ended. Run with --yes and set ${wanted.name} in the environment.`,
        );
      }
      const value = answer.trim() || wanted.fallback || "";
      const broken = value ? wanted.check(value) : "given";
      if (!broken) return value;
      process.stdout.write(`  ${wanted.name} must be ${broken}.\n`);
    }
    throw new SetupError(`${wanted.name}: no acceptable answer after ${TRIES} tries.`);
  }

  const vars: Record<string, string> = {};
  const appKey = await find({
    name: "NIM_APP_KEY",
    flag: options.appKey,
    flagName: "--app-key",
    current: varValue(file, "NIM_APP_KEY"),
    question: "NetEase App Key (NIM_APP_KEY)",
    check: (value) => (/^[A-Za-z0-9]{1,64}$/.test(value) ? undefined : "letters and digits, at most 64"),
  });
  vars.NIM_APP_KEY = appKey ?? "";
  vars.NIM_REGION =
    (await find({
      name: "NIM_REGION",
      flag: options.region,
      flagName: "--region",
      current: varValue(file, "NIM_REGION"),
      question: "NetEase region, cn (mainland China) or sg (Singapore) (NIM_REGION)",
      fallback: "cn",
      check: (value) => (value === "cn" || value === "sg" ? undefined : "cn or sg"),
    })) ?? "cn";

  const identity = await gatherIdentity(context, find, missing, terminal);
  Object.assign(vars, identity.vars);

  const secrets: SecretToPut[] = [];
  if (!listed.has("NIM_APP_SECRET")) {
    const value = await find({
      name: "NIM_APP_SECRET",
      question: "NetEase App Secret (NIM_APP_SECRET; not shown)",
      hidden: true,
      check: (value) =>
        publicValueKind(value)
          ? "your app's own App Secret, not a placeholder or a published development value"
          : /^\S{1,256}$/.test(value)
            ? undefined
            : "the App Secret as the NetEase console shows it",
    });
    if (value) secrets.push({ name: "NIM_APP_SECRET", value, generated: false });
  }
  if (identity.sessionSecret)
    secrets.push({ name: "SESSION_JWT_SECRET", value: identity.sessionSecret, generated: false });
  // Never replaced once set: it derives every accid, so a new one would give new users other accids.
  if (!listed.has("ACCID_SECRET")) {
    secrets.push({ name: "ACCID_SECRET", value: randomBytes(48).toString("base64"), generated: true });
  }
  const admin = await gatherAdmin(context, terminal);
  if (admin && !listed.has("ADMIN_TOKEN")) {
    secrets.push({ name: "ADMIN_TOKEN", value: randomBytes(32).toString("base64url"), generated: true });
  }

  if (missing.length > 0) {
    throw new SetupError(
      `missing ${missing.join(", ")}: with --yes every value comes from a flag, an environment variable ` +
        "or wrangler.jsonc (nothing is asked). Set them, or run without --yes to be asked.",
    );
  }
  const needed: SecretName[] = ["NIM_APP_SECRET"];
  if (identity.needsSessionSecret) needed.push("SESSION_JWT_SECRET");
  needed.push("ACCID_SECRET");
  if (admin) needed.push("ADMIN_TOKEN");
  return { vars, identity: identity.label, secrets, needed, admin };
}

/** Who signs sessions: the vars that say so, and the HS256 secret to put when it is the project's own backend. */
interface Identity {
  vars: Record<string, string>;
  label: string;
  /** Whether the configuration needs SESSION_JWT_SECRET (set already, or in `sessionSecret`). */
  needsSessionSecret: boolean;
  sessionSecret: string | undefined;
}

/**
 * SESSION_PROVIDER and what its preset needs. `oidc:<issuer>` is written as SESSION_OIDC_ISSUER, the
 * setting the Worker reads an OpenID issuer from (its parser refuses `oidc:` in SESSION_PROVIDER).
 * Settings another preset must not have are cleared (firebase derives its audience; only clerk has
 * authorized parties), since the Worker refuses them.
 */
async function gatherIdentity(
  context: GatherContext,
  find: (wanted: Wanted) => Promise<string | undefined>,
  missing: string[],
  terminal: () => Asker | undefined,
): Promise<Identity> {
  const { options, env, file, listed } = context;
  const configured = Object.fromEntries(
    [...MANAGED_VARS, ...OTHER_SESSION_VARS].map((name) => [name, varValue(file, name)]),
  ) as Record<string, string>;
  const flagged = options.provider !== undefined || options.audience !== undefined;
  if (configured.SESSION_ISSUERS || configured.SESSION_JWKS_URL) {
    // Several issuers, or a bare JWKS: more than one line, kept as written (docs/identity-providers.md).
    if (flagged)
      throw new SetupError(
        "wrangler.jsonc sets SESSION_ISSUERS or SESSION_JWKS_URL: --provider and --audience do not apply; edit it there.",
      );
    const secretEntry = /"provider"\s*:\s*"secret"/.test(configured.SESSION_ISSUERS ?? "");
    const sessionSecret = secretEntry && !listed.has("SESSION_JWT_SECRET") ? await sessionSecretValue(find) : undefined;
    checkSession({ ...configured, SESSION_JWT_SECRET: sessionSecret }, sessionSecret !== undefined);
    return {
      vars: {},
      label: "the issuers wrangler.jsonc sets (SESSION_ISSUERS or SESSION_JWKS_URL)",
      needsSessionSecret: secretEntry,
      sessionSecret,
    };
  }

  // Already decided: a provider in the file, or the own-backend secret already set.
  const current = configured.SESSION_PROVIDER
    ? configured.SESSION_PROVIDER
    : configured.SESSION_OIDC_ISSUER
      ? `oidc:${configured.SESSION_OIDC_ISSUER}`
      : listed.has("SESSION_JWT_SECRET")
        ? ""
        : undefined;
  // The own backend's secret, given in the environment, says alone who signs sessions.
  let provider = options.provider ?? env.SESSION_PROVIDER ?? current ?? (env.SESSION_JWT_SECRET ? "" : undefined);
  let undecided = false;
  if (provider === undefined) {
    const questions = terminal();
    if (questions) provider = await askProvider(questions);
    else {
      missing.push("SESSION_PROVIDER (or SESSION_JWT_SECRET)");
      undecided = true;
    }
  } else {
    const broken = providerProblem(provider.trim());
    if (broken) throw new SetupError(`SESSION_PROVIDER must be ${broken}.`);
  }
  provider = provider?.trim() ?? "";
  const preset = provider ? provider.slice(0, provider.indexOf(":")) : "";
  const given = (flag: string | undefined, name: string) => (flag ?? (env[name] || undefined))?.trim();
  const vars: Record<string, string> = {
    SESSION_PROVIDER: preset === "oidc" ? "" : provider,
    SESSION_OIDC_ISSUER: preset === "oidc" ? provider.slice("oidc:".length) : "",
    // What another preset left in the file is cleared where this one refuses it (firebase derives
    // its audience; only clerk has authorized parties); what is given now is kept, and judged below.
    SESSION_JWT_AUDIENCE:
      given(options.audience, "SESSION_JWT_AUDIENCE") ??
      (preset === "firebase" ? "" : (configured.SESSION_JWT_AUDIENCE ?? "")),
    SESSION_AUTHORIZED_PARTIES:
      given(options.authorizedParties, "SESSION_AUTHORIZED_PARTIES") ??
      (preset === "clerk" ? (configured.SESSION_AUTHORIZED_PARTIES ?? "") : ""),
  };
  const hint = AUDIENCE_HINTS[preset];
  if (hint) {
    vars.SESSION_JWT_AUDIENCE =
      (await find({
        name: "SESSION_JWT_AUDIENCE",
        flag: options.audience,
        flagName: "--audience",
        current: configured.SESSION_JWT_AUDIENCE,
        question: `The audience your ${preset} tokens carry, ${hint} (SESSION_JWT_AUDIENCE)`,
        check: (value) =>
          sessionProblem({ ...configured, ...vars, SESSION_JWT_AUDIENCE: value }, "SESSION_JWT_AUDIENCE"),
      })) ?? "";
  }
  if (preset === "clerk" && !vars.SESSION_JWT_AUDIENCE) {
    vars.SESSION_AUTHORIZED_PARTIES =
      (await find({
        name: "SESSION_AUTHORIZED_PARTIES",
        flag: options.authorizedParties,
        flagName: "--authorized-parties",
        current: configured.SESSION_AUTHORIZED_PARTIES,
        question: "Your app's origins, comma-separated, like https://app.example.com (SESSION_AUTHORIZED_PARTIES)",
        check: (value) =>
          sessionProblem({ ...configured, ...vars, SESSION_AUTHORIZED_PARTIES: value }, "SESSION_AUTHORIZED_PARTIES"),
      })) ?? "";
  }
  const ownBackend = provider === "" && !undecided;
  const sessionSecret = ownBackend && !listed.has("SESSION_JWT_SECRET") ? await sessionSecretValue(find) : undefined;
  // With a value missing there is nothing whole to check yet: the missing names are reported first.
  if (missing.length === 0)
    checkSession({ ...configured, ...vars, SESSION_JWT_SECRET: sessionSecret }, sessionSecret !== undefined);
  const label = provider ? provider : "your backend's HS256 secret (SESSION_JWT_SECRET)";
  return { vars, label, needsSessionSecret: ownBackend, sessionSecret };
}

/** SESSION_JWT_SECRET, from the environment or a hidden answer; at least 32 bytes, as the Worker requires. */
function sessionSecretValue(find: (wanted: Wanted) => Promise<string | undefined>): Promise<string | undefined> {
  return find({
    name: "SESSION_JWT_SECRET",
    question: "The HS256 secret your backend signs sessions with (SESSION_JWT_SECRET; not shown)",
    hidden: true,
    check: (value) =>
      publicValueKind(value)
        ? "a key of your own, not a placeholder or a published development value"
        : sessionProblem({ SESSION_JWT_SECRET: value }, "SESSION_JWT_SECRET"),
  });
}

async function askProvider(questions: Asker): Promise<string> {
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const answer = await questions.ask(
      `Who signs your users' sessions? <preset>:<where> with preset ${PRESETS.join(", ")}\n` +
        "  (like firebase:my-project); empty if your own backend signs HS256 sessions (SESSION_PROVIDER): ",
      false,
    );
    if (answer === undefined) {
      throw new SetupError("no answer for SESSION_PROVIDER: the input ended. Run with --yes and set SESSION_PROVIDER.");
    }
    const broken = providerProblem(answer.trim());
    if (!broken) return answer.trim();
    process.stdout.write(`  SESSION_PROVIDER must be ${broken}.\n`);
  }
  throw new SetupError(`SESSION_PROVIDER: no acceptable answer after ${TRIES} tries.`);
}

/**
 * What is wrong with a SESSION_PROVIDER value ("" is the own backend), by the Worker's parser; the
 * audience and parties are filled in so that only the provider itself is judged here.
 */
function providerProblem(provider: string): string | undefined {
  if (provider === "") return undefined;
  const preset = provider.slice(0, Math.max(0, provider.indexOf(":")));
  if (!(PRESETS as readonly string[]).includes(preset)) return `<preset>:<where>, preset one of ${PRESETS.join(", ")}`;
  const settings: SessionSettings =
    preset === "oidc" ? { SESSION_OIDC_ISSUER: provider.slice("oidc:".length) } : { SESSION_PROVIDER: provider };
  if (AUDIENCE_HINTS[preset]) settings.SESSION_JWT_AUDIENCE = "audience";
  if (preset === "clerk") settings.SESSION_AUTHORIZED_PARTIES = "https://app.example.com";
  return sessionProblem(settings, preset === "oidc" ? "SESSION_OIDC_ISSUER" : "SESSION_PROVIDER");
}

/** The Worker parser's rule for setting `name` under `settings`, if it breaks one. */
function sessionProblem(settings: SessionSettings, name: string): string | undefined {
  let rule: string | undefined;
  parseSessionSettings(
    settings,
    (bad, broken) => {
      if (bad === name) rule ??= broken;
    },
    () => {},
    providers,
    false,
  );
  return rule;
}

/**
 * Every rule the Worker's parser finds broken by the session settings setup is about to write:
 * the last word before anything is changed. `secretKnown` is false when the secret is set already
 * (setup cannot read it).
 */
function checkSession(settings: Record<string, string | undefined>, secretKnown: boolean): void {
  const problems: string[] = [];
  parseSessionSettings(
    settings as SessionSettings,
    (name, rule) => problems.push(`${name} must be ${rule}`),
    (name) => problems.push(`${name} is needed`),
    providers,
    secretKnown,
  );
  if (problems.length > 0) throw new SetupError(`the session settings would be refused: ${problems.join("; ")}.`);
}

/** Whether the admin API is to be on: already (ADMIN_TOKEN listed), by flag, by SETUP_ADMIN, or by answer. */
async function gatherAdmin(context: GatherContext, terminal: () => Asker | undefined): Promise<boolean> {
  const { options, env, listed } = context;
  if (listed.has("ADMIN_TOKEN")) return true;
  if (options.admin !== undefined) return options.admin;
  const setting = env.SETUP_ADMIN?.trim().toLowerCase();
  if (setting !== undefined && setting !== "") {
    if (["1", "true", "yes", "on"].includes(setting)) return true;
    if (["0", "false", "no", "off"].includes(setting)) return false;
    throw new SetupError("SETUP_ADMIN must be 1 or 0.");
  }
  // Asked on the first setup only (ACCID_SECRET, which every setup sets, is not there yet): a "no"
  // leaves nothing behind to remember it by, and a rerun must not ask again. Later: --admin.
  const questions = listed.has("ACCID_SECRET") ? undefined : terminal();
  if (!questions) return false;
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const answer = await questions.ask(
      "Turn the admin API and console on? setup generates its ADMIN_TOKEN into .admin-token [y/N]: ",
      false,
    );
    if (answer === undefined) throw new SetupError("no answer for the admin API: the input ended (SETUP_ADMIN=1|0).");
    const word = answer.trim().toLowerCase();
    if (word === "" || word === "n" || word === "no") return false;
    if (word === "y" || word === "yes") return true;
    process.stdout.write("  Answer y or n.\n");
  }
  throw new SetupError(`the admin API: no acceptable answer after ${TRIES} tries.`);
}
