/**
 * Standard Webhooks signatures (standardwebhooks.com, spec v1): what the receiver's library checks.
 *
 * The signed content is `${webhook-id}.${webhook-timestamp}.${body}`, signed with HMAC-SHA256 under
 * the secret's bytes, and sent as `v1,<base64 signature>`. The secret is written as the spec writes
 * it, `whsec_` and base64, so an operator pastes the same string into the receiver's library. Pure
 * (WebCrypto only): the delivery imports it, and the tests check it against the reference library.
 */

/** How the spec writes a signing secret: this prefix, then the key's bytes in base64. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";

/** The shortest and longest key the Worker accepts: 192 bits (the spec's minimum) to 512. */
export const WEBHOOK_KEY_BYTES = { min: 24, max: 64 } as const;

/** The key bytes of a `whsec_…` secret, or undefined when it is not one (wrong prefix, bad base64, size). */
export function webhookKeyBytes(secret: string): Uint8Array<ArrayBuffer> | undefined {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return undefined;
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return undefined;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Uint8Array.from(atob(encoded), (char) => char.charCodeAt(0));
  } catch {
    return undefined;
  }
  return bytes.length >= WEBHOOK_KEY_BYTES.min && bytes.length <= WEBHOOK_KEY_BYTES.max ? bytes : undefined;
}

/** The HMAC key of a secret's bytes (`webhookKeyBytes`), for `signWebhook`. */
export function importWebhookKey(bytes: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** The three headers of one delivery attempt: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`. */
export async function webhookHeaders(
  key: CryptoKey,
  id: string,
  timestamp: number,
  body: string,
): Promise<Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string>> {
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${btoa(String.fromCharCode(...mac))}`,
  };
}
