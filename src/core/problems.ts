/**
 * Settings that cannot work, collected while parsing so that one error names them all: the
 * `ConfigError` that `/healthz` lists and every other route answers as 500 `misconfigured`. A problem
 * names a setting and its rule, never its value.
 */

import { DomainError } from "./errors.ts";
import { present } from "./setting-values.ts";

/** One setting that is missing or unusable. `problem` describes the rule, never the value. */
export interface ConfigProblem {
  name: string;
  problem: "missing" | "invalid";
  rule?: string;
}

/** Thrown when the Env cannot produce a Config; carries every problem found, not only the first. */
export class ConfigError extends DomainError {
  override readonly name = "ConfigError";
  /** Every problem found, in the order the settings are documented. */
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const listed = problems.map((p) => `${p.name} (${p.rule ?? p.problem})`).join(", ");
    // No secret at all is what a plain `wrangler dev` without .dev.vars looks like.
    const noSecrets = ["NIM_APP_SECRET", "ACCID_SECRET"].every((name) =>
      problems.some((p) => p.name === name && p.problem === "missing"),
    );
    const hint = noSecrets
      ? "; no secrets are set: locally run `npm start` (it creates .dev.vars), deployed use `wrangler secret put`"
      : "";
    super("misconfigured", { detail: `misconfigured: ${listed}${hint}` });
    this.problems = problems;
  }
}

/**
 * A setting's parser that config.ts `loadSettingParsers` did not load although the setting is set:
 * a bug in the loader, never a setting read as unset. Its name is what the 500's log line shows.
 */
export class ParserNotLoaded extends Error {
  override readonly name = "ParserNotLoaded";

  constructor(setting: string) {
    super(`the parser of ${setting} is needed and not loaded`);
  }
}

/** `parser`, which `setting` needs: throws `ParserNotLoaded` when it was not loaded. */
export function loadedParser<T>(parser: T | undefined, setting: string): T {
  if (parser === undefined) throw new ParserNotLoaded(setting);
  return parser;
}

/** Collects every problem found while parsing, so one ConfigError can name them all. */
export class Problems {
  /** Where problems go (shared by the views `within` makes). */
  readonly list: ConfigProblem[];
  /** How a setting's name is reported: a NIM_APPS entry reports its fields under its own. */
  readonly rename: (name: string) => string;

  constructor(list: ConfigProblem[] = [], rename: (name: string) => string = (name) => name) {
    this.list = list;
    this.rename = rename;
  }
  /** `value` trimmed, or "" after noting `name` as missing. */
  need = (name: string, value: string | undefined): string => {
    const v = present(value);
    if (!v) this.missing(name);
    return v ?? "";
  };
  missing = (name: string): void => {
    this.#add({ name: this.rename(name), problem: "missing" });
  };
  bad = (name: string, rule: string): void => {
    this.#add({ name: this.rename(name), problem: "invalid", rule: renameWithin(rule, this.rename) });
  };
  /** The same list, with names reported through `rename`. */
  within(rename: (name: string) => string): Problems {
    return new Problems(this.list, rename);
  }
  /** Throws the ConfigError naming every problem, if there is one. */
  check(): void {
    if (this.list.length > 0) throw new ConfigError(this.list);
  }
  #add(problem: ConfigProblem): void {
    // A deployment-wide setting (ACCID_SECRET) that every app entry needs is reported once.
    const same = (p: ConfigProblem) =>
      p.name === problem.name && p.problem === problem.problem && p.rule === problem.rule;
    if (!this.list.some(same)) this.list.push(problem);
  }
}

/** A rule's text with each setting it names reported as `rename` reports it. */
function renameWithin(rule: string, rename: (name: string) => string): string {
  return rule.replace(/\b[A-Z][A-Z0-9_]+\b/g, (name) => rename(name));
}
