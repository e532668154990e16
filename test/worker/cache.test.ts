/** The token path's record cache: bounded, and no entry outlives its lifetime. */

import { describe, expect, it } from "vitest";
import { ExpiringCache } from "../../src/accounts/cache.ts";

describe("ExpiringCache", () => {
  it("evicts the oldest entry when full, and a re-set moves an entry to the newest place", () => {
    const cache = new ExpiringCache<string>(60_000, 2);
    cache.set("a", "A", 0);
    cache.set("b", "B", 0);
    cache.set("a", "A2", 1); // a is now the newest
    cache.set("c", "C", 2); // b, the oldest, goes
    expect(cache.get("b", 3)).toBeUndefined();
    expect(cache.get("a", 3)).toBe("A2");
    expect(cache.get("c", 3)).toBe("C");
  });

  it("refreshes between 5/6 and 7/8 of the lifetime, at least 5 s before it expires, between 11/12 and all of it", () => {
    const cache = new ExpiringCache<string>(60_000, 100);
    for (let i = 0; i < 50; i++) cache.set(`k${i}`, "v", 0);
    for (let i = 0; i < 50; i++) {
      const entry = cache.entry(`k${i}`, 0)!;
      expect(entry.refreshAt).toBeGreaterThanOrEqual(50_000);
      expect(entry.refreshAt).toBeLessThanOrEqual(52_500);
      expect(entry.expires).toBeGreaterThanOrEqual(55_000);
      expect(entry.expires).toBeLessThanOrEqual(60_000);
      expect(entry.expires - entry.refreshAt).toBeGreaterThanOrEqual(5_000);
    }
    expect(cache.get("k49", 60_000)).toBeUndefined();
  });
});
