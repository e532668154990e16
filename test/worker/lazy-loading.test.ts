/**
 * What the Worker loads on first use, when that load fails: tried again next time rather than failing
 * for the life of the isolate (`loadOnce`), and a remote key set that cannot load is "no keys" (503),
 * never a refused session. test/node/built-worker.test.ts fails the loads of the built Worker itself.
 */

import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadOnce } from "../../src/core/lazy.ts";
import { KeysUnavailable } from "../../src/session/jws.ts";
import { type KeyModuleLoader, RemoteKeys } from "../../src/session/remote-keys.ts";

describe("a module that fails to load", () => {
  it("answers no remote key (503, never a refused session) when the key module fails to load, and loads it next time", async () => {
    let loads = 0;
    const loader: KeyModuleLoader = () => {
      loads++;
      return loads === 1 ? Promise.reject(new Error("chunk missing")) : import("../../src/session/jwks.ts");
    };
    const keys = new RemoteKeys({ kind: "jwks", url: `${env.IDP_URL}/jwks.json` }, {}, loader);
    await expect(keys.check()).rejects.toBeInstanceOf(KeysUnavailable);
    expect(await keys.check()).toBe("ok");
    expect(loads).toBe(2);
  });

  it("shares one load between concurrent first uses, keeps a success and forgets a failure", async () => {
    let calls = 0;
    let fail = true;
    const load = loadOnce(async () => {
      calls++;
      await Promise.resolve();
      if (fail) throw new Error("no");
      return calls;
    });
    const [a, b] = await Promise.allSettled([load(), load()]);
    expect([a.status, b.status, calls]).toEqual(["rejected", "rejected", 1]);
    fail = false;
    expect(await Promise.all([load(), load()])).toEqual([2, 2]);
    expect(await load()).toBe(2);
    expect(calls).toBe(2);
  });
});
