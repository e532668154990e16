/**
 * The app seam: an account is `{app, uid}` in the store, the objects and the runtime, and the first
 * app keeps the keys and object names every account had before there were apps.
 */

import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { objectNameOf } from "../../src/accounts/object/client.ts";
import type { AccountObject } from "../../src/accounts/object/entry.ts";
import { AccountLedger } from "../../src/accounts/object/ledger.ts";
import { newAccountRecord } from "../../src/accounts/record.ts";
import { AccountStore } from "../../src/accounts/store.ts";
import { DEFAULT_APP } from "../../src/core/constants.ts";
import { DomainError } from "../../src/core/errors.ts";
import { runtimeFor } from "../../src/runtime.ts";
import { env, tokenFor, uniqueUid } from "./helpers.ts";

describe("an account's identity", () => {
  it("keeps the first app's KV keys and object names as they were", async () => {
    const uid = uniqueUid("seam");
    const { accid } = await tokenFor(uid);
    // The keys every deployment already has: no migration for the first app.
    expect(JSON.parse((await env.ACCOUNTS!.get(`uid:${uid}`))!)).toMatchObject({ accid });
    expect(await env.ACCOUNTS!.get(`accid:${accid}`)).toBe(uid);
    expect(objectNameOf({ app: DEFAULT_APP, uid })).toBe(uid);
  });

  it("keeps another app's accounts apart: their own keys and their own object", async () => {
    const uid = uniqueUid("seam");
    const record = newAccountRecord(`${uid.slice(-20)}acc`.replace(/[^a-z0-9]/g, ""), Date.now());
    await new AccountStore(env.ACCOUNTS!, "second").put(uid, record);
    expect(await env.ACCOUNTS!.get(`second/uid:${uid}`)).not.toBeNull();
    expect(await env.ACCOUNTS!.get(`second/accid:${record.accid}`)).toBe(uid);
    expect(await env.ACCOUNTS!.get(`uid:${uid}`)).toBeNull();
    expect(await new AccountStore(env.ACCOUNTS!).get(uid)).toBeNull();
    // A uid may hold a slash or any printable character, never a NUL: no two accounts share an object.
    expect(objectNameOf({ app: "second", uid })).not.toBe(objectNameOf({ app: DEFAULT_APP, uid: `second/${uid}` }));
    expect(objectNameOf({ app: "second", uid })).toBe(`second\u0000${uid}`);
  });

  it("lets an object remember its app for the alarms that come with no call, and refuse an app it lacks", async () => {
    const uid = uniqueUid("seam");
    const namespace = env.ACCOUNT_OBJECTS!;
    const stub = namespace.get(
      namespace.idFromName(objectNameOf({ app: "second", uid })),
    ) as DurableObjectStub<AccountObject>;
    const result = await runInDurableObject(stub, async (instance, state) => {
      const answer = await instance.get({ app: "second", uid });
      return { answer, app: new AccountLedger(state.storage.sql).app() };
    });
    // This deployment serves one app: the object refuses another rather than guess its settings.
    expect(result.answer).toMatchObject({ ok: false, kind: "misconfigured" });
    expect(result.app).toBe("second");
  });
});

describe("runtime.app()", () => {
  it("is the first app when none is named, and refuses a name the deployment does not serve", async () => {
    const runtime = await runtimeFor(env);
    if (!("app" in runtime)) throw new Error("the test settings are unusable");
    expect(runtime.app().config.name).toBe(DEFAULT_APP);
    expect(runtime.app(DEFAULT_APP)).toBe(runtime.app());
    expect(() => runtime.app("second")).toThrow(DomainError);
  });
});
