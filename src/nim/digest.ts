/**
 * Hex digests over UTF-8 text with WebCrypto, as NetEase's signing schemes use them (lowercase hex).
 * SHA-1 and MD5 are NetEase's choice, not ours: they are used only because the wire format demands them.
 */

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of the bytes. */
export function toHex(bytes: ArrayBuffer | ArrayBufferView): string {
  const view = ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
  let out = "";
  for (let i = 0; i < view.length; i++) out += HEX[view[i]!];
  return out;
}

/** sha1(text) as lowercase hex. */
export async function sha1Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-1", encoder.encode(text)));
}

/** md5(bytes) as lowercase hex (workerd supports MD5 in `crypto.subtle.digest`). */
export async function md5Hex(bytes: BufferSource): Promise<string> {
  return toHex(await crypto.subtle.digest("MD5", bytes));
}

/**
 * Compares two strings without an early exit, so the time taken does not reveal where they differ.
 * Uses workerd's `crypto.subtle.timingSafeEqual` where present, a constant-time loop otherwise
 * (Node, browsers). Different lengths are unequal; length is not treated as secret.
 */
export function timingSafeEqualText(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  if (x.byteLength !== y.byteLength) return false;
  const subtle = crypto.subtle as SubtleCrypto & {
    timingSafeEqual?: (a: ArrayBufferView, b: ArrayBufferView) => boolean;
  };
  if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(x, y);
  let diff = 0;
  for (let i = 0; i < x.byteLength; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}
