/**
 * GET /admin: the operator console, a small web app (console/admin/: HTML, one script, one style
 * sheet; no build step, no third-party code) served from the Worker's static assets. Served only
 * where the admin API is on (ADMIN_TOKEN or Cloudflare Access), under a strict Content Security
 * Policy: everything from this origin only, no inline script, never framed. The console holds no
 * secret: it signs in through Access, or with the admin token typed into it (kept in memory).
 */

import { type Context, Hono } from "hono";
import type { AppEnv } from "../context.ts";
import { errors } from "../errors.ts";

/** Routes under /admin (the API under /admin/v1 is mounted apart). */
export const consoleRoutes = new Hono<AppEnv>();

/** The console's policy: nothing from elsewhere, no inline code, no framing, forms post here only. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Route → asset path. Only these are served: the assets folder holds nothing else. */
const CONSOLE_FILES: Readonly<Record<string, string>> = {
  "/": "/admin/",
  "/console.js": "/admin/console.js",
  "/console.css": "/admin/console.css",
};

for (const [route, asset] of Object.entries(CONSOLE_FILES)) consoleRoutes.get(route, (c) => serveAsset(c, asset));

async function serveAsset(c: Context<AppEnv>, asset: string): Promise<Response> {
  const { config } = c.get("runtime");
  if (!config.consoleAssets || (!config.adminToken && !config.access)) throw errors.notFound();
  const found = await config.consoleAssets.fetch(new URL(asset, c.req.url));
  if (!found.ok) throw errors.notFound();
  const response = new Response(found.body, found);
  response.headers.set("Content-Security-Policy", CONSOLE_CSP);
  response.headers.set("X-Frame-Options", "DENY");
  response.headers.set("Referrer-Policy", "no-referrer");
  // Revalidated on every load (the assets carry ETags): a deploy reaches operators at once.
  response.headers.set("Cache-Control", "no-cache");
  return response;
}
