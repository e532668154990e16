/**
 * Reading setting values: trimmed text, byte lengths, URLs to fetch from and browser origins. Pure,
 * and free of TypeScript-only syntax: config.ts and session/settings.ts (which the deploy preflight
 * runs in plain Node) share them.
 */

/** The trimmed value, or undefined when it is empty. */
export function present(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

const encoder = new TextEncoder();
/** A value's length in UTF-8 bytes (what a key's strength is counted in). */
export function byteLength(text: string): number {
  return encoder.encode(text).byteLength;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * A setting that is a whole number: `fallback` when unset, NaN when it is not digits (at most nine), so
 * the caller's bounds check refuses it. One rule for every numeric setting.
 */
export function wholeNumber(raw: string | undefined, fallback: number): number {
  const text = present(raw);
  if (text === undefined) return fallback;
  return /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
}

/** Whether `text` is a URL on this machine (loopback): reachable locally, never from a deployed Worker. */
export function isLoopbackUrl(text: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(text).hostname);
  } catch {
    return false;
  }
}

/** An https URL (http only on loopback) without credentials, query or fragment: safe to fetch keys from. */
export function isFetchableUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username || url.password || url.search || url.hash) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname));
}

/** An exact origin: scheme, host and optional port, nothing else (so never "*"). */
export function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    const plainHost = /^[a-z0-9.-]+$/.test(url.hostname) || /^\[[0-9a-f:.]+\]$/.test(url.hostname);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text && plainHost;
  } catch {
    return false;
  }
}
