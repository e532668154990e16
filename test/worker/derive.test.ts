/** Known answers for the account object's derivations (test/fixtures/derivation.json, made with Python). */

import { describe, expect, it } from "vitest";
import { deriveAccid, deriveRtcUid, importDerivationKey } from "../../src/accounts/object/derive.ts";
import vectors from "../fixtures/derivation.json";

const key = importDerivationKey(vectors.accidSecret);

describe("accid derivation", () => {
  it.each(vectors.accid.vectors)("$uid at generation $generation", async (v) => {
    expect(await deriveAccid(await key, v.uid, v.generation)).toBe(v.accid);
  });
});

describe("RTC uid derivation", () => {
  it.each(vectors.rtcUid.vectors)("$uid at attempt $attempt", async (v) => {
    const rtcUid = await deriveRtcUid(await key, v.uid, v.attempt);
    expect(rtcUid).toBe(v.rtcUid);
    expect(Number.isSafeInteger(rtcUid) && rtcUid > 0).toBe(true);
  });
});
