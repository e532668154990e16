/**
 * The startup reference for `npm run bench`: an empty Hono app, built by wrangler exactly as the
 * production Worker is. The Worker's startup is judged as a ratio to this one's, measured on the
 * same machine in the same run, so the target does not depend on how fast the machine is.
 */
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.json({ ok: true }));
export default app;
