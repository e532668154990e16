/**
 * The emulated app's IM accounts, apart from any wire format: v1 (form posts) and v2 (REST JSON) are
 * two views of this one book, so an account created through one reads the same through the other.
 * Outcomes carry NetEase's result codes; each dialect words them in its own answer shape.
 */

import { ACCID_PATTERN } from "./netease.ts";

/** The profile ("用户名片") fields NetEase stores with an account, by their v1 names. */
export interface Profile {
  name: string;
  icon: string;
  sign: string;
  email: string;
  birth: string;
  mobile: string;
  /** 0 unknown, 1 male, 2 female. */
  gender: number;
  ex: string;
}

/** One account. */
export interface Account extends Profile {
  /** Lowercased, as NetEase stores it. */
  accid: string;
  /** The static token (NetEase generates one when none is given). */
  token: string;
  blocked: boolean;
  createdAt: number;
}

/** A failure in NetEase's terms: its code and text. */
export interface Refusal {
  code: number;
  desc: string;
  /** Set when the account does not exist (each dialect words that its own way). */
  notFound?: true;
}

/** What an operation on the book gave. */
export type Outcome<T> = { ok: true; value: T } | ({ ok: false } & Refusal);

/** Longest value of each profile string NetEase's v1 docs allow (`create.action`). */
const PROFILE_LIMITS: Record<Exclude<keyof Profile, "gender">, number> = {
  name: 64,
  icon: 1024,
  sign: 256,
  email: 64,
  birth: 16,
  mobile: 32,
  ex: 1024,
};
const PROFILE_FIELDS = Object.keys(PROFILE_LIMITS) as (keyof typeof PROFILE_LIMITS)[];

/** What creating an account takes: the accid, and optionally a token, a profile and a disabled start. */
export interface NewAccount {
  accid: unknown;
  token?: unknown;
  profile?: Partial<Record<keyof Profile, unknown>>;
  /** v2's `configuration.enabled: false` creates the account disabled. */
  blocked?: boolean;
}

const refuse = (code: number, desc: string): { ok: false } & Refusal => ({ ok: false, code, desc });
const notFound: { ok: false } & Refusal = { ok: false, code: 414, desc: "user not exist", notFound: true };

/** The accounts, kept in memory and handed to `persist` after each change. */
export class AccountBook {
  readonly #accounts = new Map<string, Account>();
  /** How many times each accid's live sessions were kicked (a block with a kick, or a kick). */
  readonly #kicks = new Map<string, number>();
  readonly #persist: (account: Account) => void;

  constructor(persist: (account: Account) => void) {
    this.#persist = persist;
  }

  /** Puts back an account read from storage (an older one may lack the profile fields). */
  restore(stored: Partial<Account> & { accid: string }): void {
    this.#accounts.set(stored.accid, { ...emptyProfile(), token: "", blocked: false, createdAt: 0, ...stored });
  }

  get size(): number {
    return this.#accounts.size;
  }

  /** The account for `accid` (any case), if it exists. */
  find(accid: unknown): Account | undefined {
    return typeof accid === "string" ? this.#accounts.get(accid.toLowerCase()) : undefined;
  }

  kicks(accid: string): number {
    return this.#kicks.get(accid.toLowerCase()) ?? 0;
  }

  /** Registers an account; an accid taken in any case is refused with 414 `already register`. */
  create(input: NewAccount): Outcome<Account> {
    const { accid } = input;
    if (typeof accid !== "string" || !ACCID_PATTERN.test(accid)) return refuse(414, "parameter error: accid");
    const token = input.token ?? crypto.randomUUID().replaceAll("-", "");
    if (typeof token !== "string" || token.length > 128) return refuse(414, "parameter error: token");
    const profile = emptyProfile();
    for (const field of PROFILE_FIELDS) {
      const value = input.profile?.[field];
      if (value === undefined) continue;
      if (typeof value !== "string" || value.length > PROFILE_LIMITS[field]) {
        return refuse(414, `parameter error: ${field}`);
      }
      profile[field] = value;
    }
    const gender = input.profile?.gender;
    if (gender !== undefined) {
      const parsed = typeof gender === "string" && /^[012]$/.test(gender) ? Number(gender) : gender;
      if (parsed !== 0 && parsed !== 1 && parsed !== 2) return refuse(414, "parameter error: gender");
      profile.gender = parsed;
    }
    // NetEase treats accids case-insensitively and stores them lowercased.
    if (this.#accounts.has(accid.toLowerCase())) return refuse(414, "already register");
    const account: Account = {
      ...profile,
      accid: accid.toLowerCase(),
      token,
      blocked: input.blocked ?? false,
      createdAt: Date.now(),
    };
    this.#accounts.set(account.accid, account);
    this.#persist(account);
    return { ok: true, value: account };
  }

  /** Blocks or unblocks; a block with `kick` also disconnects live sessions (NetEase's default: no kick). */
  setBlocked(accid: string, blocked: boolean, kick: boolean): Outcome<Account> {
    const account = this.find(accid);
    if (!account) return notFound;
    account.blocked = blocked;
    if (blocked && kick) this.#countKick(account.accid);
    this.#persist(account);
    return { ok: true, value: account };
  }

  /** Disconnects every live session; the account stays as it is (usable, if it was). */
  kick(accid: string): Outcome<Account> {
    const account = this.find(accid);
    if (!account) return notFound;
    this.#countKick(account.accid);
    return { ok: true, value: account };
  }

  #countKick(accid: string): void {
    this.#kicks.set(accid, (this.#kicks.get(accid) ?? 0) + 1);
  }
}

function emptyProfile(): Profile {
  return { name: "", icon: "", sign: "", email: "", birth: "", mobile: "", gender: 0, ex: "" };
}
