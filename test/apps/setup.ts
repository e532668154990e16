/**
 * The worker-apps project's Secrets Store: the sg app's secret, seeded before any test sends a
 * request (a store binding is read-only from the Worker; Miniflare's admin API writes it).
 */

import { adminSecretsStore, env } from "cloudflare:test";
import { beforeAll } from "vitest";
import { TEST_APPS } from "../settings.ts";

beforeAll(async () => {
  using admin = adminSecretsStore(env.NIM_APP_SECRET_SG);
  if ((await admin.list()).length === 0) await admin.create(TEST_APPS.sg.appSecret);
});
