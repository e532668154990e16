/**
 * Our Standard Webhooks signatures (src/events/webhook.ts) against the spec's reference library (npm
 * `standardwebhooks`, what a receiver's backend runs): the same signature for the same input, and
 * verification of what we sign, in Node, as a receiver would.
 */

import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { importWebhookKey, webhookHeaders, webhookKeyBytes } from "../../src/events/webhook.ts";

// The example secret and message of the Standard Webhooks specification's own test suite.
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP = 1614265330;
const BODY = '{"test": 2432232314}';

async function sign(secret: string, id: string, timestamp: number, body: string) {
  const bytes = webhookKeyBytes(secret);
  if (!bytes) throw new Error("not a secret");
  return webhookHeaders(await importWebhookKey(bytes), id, timestamp, body);
}

describe("Standard Webhooks signatures", () => {
  it("signs as the reference library does (the spec's known answer)", async () => {
    const ours = await sign(SECRET, ID, TIMESTAMP, BODY);
    expect(ours["webhook-signature"]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    expect(ours["webhook-signature"]).toBe(new Webhook(SECRET).sign(ID, new Date(TIMESTAMP * 1000), BODY));
    expect(ours).toMatchObject({ "webhook-id": ID, "webhook-timestamp": String(TIMESTAMP) });
  });

  it("verifies with the library now, and not once the body, id or timestamp changed", async () => {
    const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ id: "evt_1", type: "account.blocked", data: { uid: "ü 用户" } });
    const headers = await sign(secret, "evt_1", now, body);
    const receiver = new Webhook(secret);
    expect(receiver.verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => receiver.verify(`${body} `, headers)).toThrow();
    expect(() => receiver.verify(body, { ...headers, "webhook-id": "evt_2" })).toThrow();
    expect(() => receiver.verify(body, { ...headers, "webhook-timestamp": String(now + 1) })).toThrow();
    // Another key: refused.
    expect(() => new Webhook(SECRET).verify(body, headers)).toThrow();
  });

  it("reads a whsec_ secret of 24 to 64 bytes, nothing else", () => {
    expect(webhookKeyBytes(SECRET)).toHaveLength(24);
    for (const bad of ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_MfKQ9r8G", `whsec_${"A".repeat(88)}`]) {
      expect(webhookKeyBytes(bad), bad).toBeUndefined();
    }
  });
});
