/** What the settings accept as a URL to fetch from and as a browser origin. Pure. */

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

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
