/**
 * docs/events.md's receivers, run as printed: the Node one (the Standard Webhooks library) as a
 * server taking a delivery signed by the Worker's own code, and the Python one (standard library)
 * on the same. Each must take what we sign and refuse a body changed after signing.
 */

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importWebhookKey, webhookHeaders, webhookKeyBytes } from "../../src/events/webhook.ts";

const root = join(import.meta.dirname, "..", "..");
const page = readFileSync(join(root, "docs/events.md"), "utf8");
const block = (language: string) => {
  const fence = "```";
  const found = page.match(new RegExp(`${fence}${language}\\n([\\s\\S]*?)${fence}`));
  if (!found) throw new Error(`docs/events.md has no ${language} block`);
  return found[1]!;
};
const dir = join(root, ".wrangler", "tmp", `events-doc-${process.pid}`);
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
const body = JSON.stringify({ id: "evt_1", type: "account.blocked", data: { uid: "alice", accid: "a1" } });

async function signed(): Promise<Record<string, string>> {
  const key = await importWebhookKey(webhookKeyBytes(secret)!);
  return webhookHeaders(key, "evt_1", Math.floor(Date.now() / 1000), body);
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

describe("docs/events.md's receivers", () => {
  it("the Node receiver takes a delivery the Worker signs, and refuses one changed since", async () => {
    const file = join(dir, "receiver.mjs");
    writeFileSync(file, block("js"));
    const port = await freePort();
    const child = spawn(process.execPath, [file], {
      env: { ...process.env, EVENTS_WEBHOOK_SECRET: secret, PORT: String(port) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let printed = "";
    child.stdout.on("data", (chunk) => (printed += chunk));
    try {
      const post = async (text: string) => {
        for (let tries = 0; ; tries++) {
          try {
            return await fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers: await signed(), body: text });
          } catch (error) {
            if (tries > 50) throw error;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      };
      expect((await post(body)).status).toBe(204);
      expect((await post(body.replace("alice", "mallory"))).status).toBe(400);
      expect(printed).toContain("account.blocked alice a1");
    } finally {
      child.kill();
    }
  });

  const python = spawnSync("python3", ["--version"]).status === 0;
  it.skipIf(!python)("the Python verify takes a delivery the Worker signs, and refuses one changed since", async () => {
    const headers = await signed();
    const file = join(dir, "verify.py");
    writeFileSync(
      file,
      `${block("python")}
import json, sys
headers = json.loads(sys.argv[1])
print(verify(sys.argv[2].encode(), headers), verify(sys.argv[3].encode(), headers))
print(verify(sys.argv[2].encode(), {}), verify(sys.argv[2].encode(), {**headers, "webhook-signature": "v1,ü"}))
`,
    );
    const run = spawnSync("python3", [file, JSON.stringify(headers), body, `${body} `], {
      encoding: "utf8",
      env: { ...process.env, EVENTS_WEBHOOK_SECRET: secret },
    });
    expect(run.stderr).toBe("");
    // Taken; changed since; no headers; a signature that is not ASCII: refused, never an exception.
    expect(run.stdout.trim().split("\n")).toEqual(["True False", "False False"]);
  });
});
