/** npm run deploy's preflight: refuses an empty app key or a missing KV binding, with a clear message. */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** Runs the preflight on the Wrangler file at `path` (with `--var` values, as scripts/deploy.ts passes them). */
function preflightOn(path: string, vars: Record<string, string> = {}): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, ["scripts/deploy-preflight.ts"], {
    encoding: "utf8",
    env: {
      ...process.env,
      PREFLIGHT_CONFIG: path,
      PREFLIGHT_VARS: JSON.stringify(vars),
      WRANGLER_SEND_METRICS: "false",
    },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Runs the preflight on a minimal wrangler.toml with `toml` added (wrangler reads either format). */
function preflight(toml: string, vars: Record<string, string> = {}): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "preflight-"));
  writeFileSync(join(dir, "worker.ts"), "export default {};\n");
  writeFileSync(
    join(dir, "wrangler.toml"),
    `name = "t"\nmain = "worker.ts"\ncompatibility_date = "2026-11-01"\n${toml}`,
  );
  return preflightOn(join(dir, "wrangler.toml"), vars);
}

const PACER =
  '[[durable_objects.bindings]]\nname = "NIM_CREATE_PACER"\nclass_name = "CreatePacer"\n' +
  '[[migrations]]\ntag = "v2"\nnew_sqlite_classes = ["CreatePacer"]\n';
const OBJECTS =
  '[[durable_objects.bindings]]\nname = "ACCOUNT_OBJECTS"\nclass_name = "AccountObject"\n' +
  `[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["AccountObject"]\n${PACER}`;
const KV = `${OBJECTS}[[kv_namespaces]]\nbinding = "ACCOUNTS"\n`;

describe("deploy preflight", () => {
  it("refuses an empty NIM_APP_KEY", () => {
    const { status, output } = preflight(`[vars]\nNIM_APP_KEY = ""\n${KV}`);
    expect(status).toBe(1);
    expect(output).toContain("NIM_APP_KEY is empty");
    expect(output).toContain("refusing to deploy");
  });

  it("refuses a configuration without the ACCOUNTS KV binding", () => {
    const { status, output } = preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${OBJECTS}`);
    expect(status).toBe(1);
    expect(output).toContain("No KV binding ACCOUNTS");
  });

  it("refuses a configuration without the account objects' binding or their SQLite migration", () => {
    const kvOnly = '[[kv_namespaces]]\nbinding = "ACCOUNTS"\n';
    const none = preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${kvOnly}`);
    expect(none.status).toBe(1);
    expect(none.output).toContain("No Durable Object binding ACCOUNT_OBJECTS");
    expect(none.output).toContain("No migration declares AccountObject");
    const binding = '[[durable_objects.bindings]]\nname = "ACCOUNT_OBJECTS"\nclass_name = "AccountObject"\n';
    const keyValueBacked = '[[migrations]]\ntag = "v1"\nnew_classes = ["AccountObject"]\n';
    const noSqlite = preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${kvOnly}${binding}${keyValueBacked}`);
    expect(noSqlite.status).toBe(1);
    expect(noSqlite.output).not.toContain("No Durable Object binding ACCOUNT_OBJECTS");
    expect(noSqlite.output).toContain("No migration declares AccountObject as a SQLite-backed class");
  });

  it("refuses pacing without its object's binding and migration, unless NIM_CREATE_RATE is 0", () => {
    const withoutPacer = `[[kv_namespaces]]\nbinding = "ACCOUNTS"\n${OBJECTS.replace(PACER, "")}`;
    const paced = preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${withoutPacer}`);
    expect(paced.status).toBe(1);
    expect(paced.output).toContain("No Durable Object binding NIM_CREATE_PACER");
    expect(paced.output).toContain("No migration declares CreatePacer");
    expect(preflight(`[vars]\nNIM_APP_KEY = "abc123"\nNIM_CREATE_RATE = "0"\n${withoutPacer}`).status).toBe(0);
  });

  it("refuses a channel policy the Worker would refuse, and reminds of NERTC_PERM_SECRET for a good one", () => {
    const bad = preflight(`[vars]\nNIM_APP_KEY = "abc123"\nRTC_CHANNEL_POLICY = '[{"channel":"live-*"}]'\n${KV}`);
    expect(bad.status).toBe(1);
    expect(bad.output).toContain("RTC_CHANNEL_POLICY must be a JSON list");
    expect(bad.output).toContain("(at $[0].privileges)");
    const good = preflight(
      `[vars]\nNIM_APP_KEY = "abc123"\nRTC_CHANNEL_POLICY = '[{"channel":"live-*","privileges":["join","receive"]}]'\n${KV}`,
    );
    expect(good.status).toBe(0);
    expect(good.output).toContain("NERTC_PERM_SECRET");
  });

  it("refuses a JWKS without the issuer and audience to pin", () => {
    const jwks = 'SESSION_JWKS_URL = "https://idp.example/.well-known/jwks.json"\n';
    const neither = preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${jwks}${KV}`);
    expect(neither.status).toBe(1);
    expect(neither.output).toContain("SESSION_JWT_ISSUER: required with a JWKS URL");
    const noAudience = preflight(
      `[vars]\nNIM_APP_KEY = "abc123"\n${jwks}SESSION_JWT_ISSUER = "https://idp.example/"\n${KV}`,
    );
    expect(noAudience.status).toBe(1);
    expect(noAudience.output).toContain("SESSION_JWT_AUDIENCE: required for jwks");
    const both = 'SESSION_JWT_ISSUER = "https://idp.example/"\nSESSION_JWT_AUDIENCE = "my-app"\n';
    expect(preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${jwks}${both}${KV}`).status).toBe(0);
  });

  it("refuses an OpenID issuer, a preset or an issuer list without an audience rule, and passes one-line presets", () => {
    const vars = (lines: string) => preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${lines}${KV}`);
    const oidc = vars('SESSION_OIDC_ISSUER = "https://idp.example"\n');
    expect(oidc.status).toBe(1);
    expect(oidc.output).toContain("SESSION_JWT_AUDIENCE: required for oidc");
    expect(vars('SESSION_OIDC_ISSUER = "https://idp.example"\nSESSION_JWT_AUDIENCE = "my-app"\n').status).toBe(0);
    const clerk = vars('SESSION_PROVIDER = "clerk:clerk.example.com"\n');
    expect(clerk.status).toBe(1);
    expect(clerk.output).toContain("SESSION_AUTHORIZED_PARTIES: required for clerk");
    expect(vars('SESSION_PROVIDER = "auth0:my-app.eu.auth0.com"\n').output).toContain(
      "SESSION_JWT_AUDIENCE: required for auth0",
    );
    // The presets that derive their audience need nothing else.
    expect(vars('SESSION_PROVIDER = "firebase:my-project-1234"\n').status).toBe(0);
    expect(vars('SESSION_PROVIDER = "supabase:abcdefghijklmnopqrst"\n').status).toBe(0);
    const list = vars(
      `SESSION_ISSUERS = '[{"provider":"firebase:my-project-1234"},{"provider":"cognito:eu-west-1_AbC123"}]'\n`,
    );
    expect(list.status).toBe(1);
    expect(list.output).toContain("SESSION_ISSUERS: entry 2: audience must be required for cognito");
  });

  it("passes a usable configuration, noting a namespace id still to commit", () => {
    const { status, output } = preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${KV}`);
    expect(status).toBe(0);
    expect(output).toContain("preflight ok");
    expect(output).toContain("ACCOUNTS has no id");
    const withId = preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${KV}id = "0123456789abcdef0123456789abcdef"\n`);
    expect(withId.status).toBe(0);
    expect(withId.output).not.toContain("has no id");
  });

  it("refuses what only local development may use: the flag, a published value, a placeholder, a loopback base", () => {
    const flag = preflight(`[vars]\nNIM_APP_KEY = "abc123"\nLOCAL_DEVELOPMENT = "true"\n${KV}`);
    expect(flag.status).toBe(1);
    expect(flag.output).toContain("LOCAL_DEVELOPMENT is for npm start and the tests only");
    const published = preflight(
      `[vars]\nNIM_APP_KEY = "abc123"\nSESSION_PROVIDER = "firebase:dev-NOT-FOR-PRODUCTION"\n${KV}`,
    );
    expect(published.status).toBe(1);
    expect(published.output).toContain("SESSION_PROVIDER: your own value: this development value is published");
    expect(published.output).not.toContain("dev-NOT-FOR-PRODUCTION"); // names, never values
    const placeholder = preflight(`[vars]\nNIM_APP_KEY = "REPLACE-ME"\n${KV}`);
    expect(placeholder.status).toBe(1);
    expect(placeholder.output).toContain("NIM_APP_KEY: your own value, not the placeholder of .dev.vars.example");
    const loopback = preflight(
      `[vars]\nNIM_APP_KEY = "abc123"\nNIM_API_BASE = "http://127.0.0.1:8788/nimserver"\n${KV}`,
    );
    expect(loopback.status).toBe(1);
    expect(loopback.output).toContain("NIM_API_BASE is a loopback address");
    const entry = { name: "sg", appKey: "def456", apiBase: "http://localhost:9000/nimserver", secret: "S_SG" };
    const appLoopback = preflight(`[vars]\nNIM_APPS = '${JSON.stringify([entry])}'\n${KV}`);
    expect(appLoopback.status).toBe(1);
    expect(appLoopback.output).toContain("NIM_APPS[sg].apiBase is a loopback address");
  });

  it("refuses a var that is JSON or a secret, and checks deploy's --var values as wrangler sets them", () => {
    const json = preflight(`[vars]\nNIM_APP_KEY = "abc123"\nLOCAL_DEVELOPMENT = true\nADMIN_TOKEN = ["x"]\n${KV}`);
    expect(json.status).toBe(1);
    expect(json.output).toContain("LOCAL_DEVELOPMENT must be text (a string), not JSON");
    expect(json.output).toContain("LOCAL_DEVELOPMENT is for npm start and the tests only");
    expect(json.output).toContain("ADMIN_TOKEN is a secret, not a var");
    const flag = preflight(`[vars]\nNIM_APP_KEY = "abc123"\n${KV}`, { LOCAL_DEVELOPMENT: "true" });
    expect(flag.status).toBe(1);
    expect(flag.output).toContain("LOCAL_DEVELOPMENT is for npm start and the tests only");
  });

  it("passes the project's own wrangler.jsonc once it names an app", () => {
    const dir = mkdtempSync(join(tmpdir(), "preflight-"));
    const config = readFileSync("wrangler.jsonc", "utf8").replace('"NIM_APP_KEY": ""', '"NIM_APP_KEY": "abc123"');
    writeFileSync(join(dir, "wrangler.jsonc"), config);
    const { status, output } = preflightOn(join(dir, "wrangler.jsonc"));
    expect(output).toContain("preflight ok");
    expect(status).toBe(0);
  });

  describe("with NIM_APPS", () => {
    const apps = (list: unknown[]) => `NIM_APPS = '${JSON.stringify(list)}'\n`;
    const cn = { name: "cn", appKey: "abc123", secret: "NIM_APP_SECRET_CN" };
    const sg = { name: "sg", appKey: "def456", region: "sg", secret: "NIM_APP_SECRET_SG" };

    it("accepts the apps and names each app's secret binding to check, and needs no NIM_APP_KEY", () => {
      const { status, output } = preflight(`[vars]\n${apps([cn, sg])}${KV}`);
      expect(output).toContain("preflight ok");
      expect(output).toContain("must list NIM_APP_SECRET_CN, NIM_APP_SECRET_SG, ACCID_SECRET");
      expect(status).toBe(0);
    });

    it("refuses an entry the Worker would refuse, naming the entry and field", () => {
      const { status, output } = preflight(
        `[vars]\n${apps([cn, { ...sg, appKey: "not a key", createRate: -1 }])}${KV}`,
      );
      expect(status).toBe(1);
      expect(output).toContain("NIM_APPS[sg].appKey: letters and digits");
      expect(output).toContain("NIM_APPS[sg].createRate");
    });

    it("refuses the one-app settings beside it, and a secret kept under [vars]", () => {
      const beside = preflight(`[vars]\nNIM_APP_KEY = "abc123"\nNIM_REGION = "cn"\n${apps([cn])}${KV}`);
      expect(beside.status).toBe(1);
      expect(beside.output).toContain("NIM_APP_KEY: leave unset with NIM_APPS");
      expect(beside.output).toContain("NIM_REGION: leave unset with NIM_APPS");
      const plain = preflight(`[vars]\nNIM_APP_SECRET_CN = "oops"\n${apps([cn])}${KV}`);
      expect(plain.status).toBe(1);
      expect(plain.output).toContain('NIM_APPS names NIM_APP_SECRET_CN as a secret, but it is under "vars"');
    });

    it("takes a Secrets Store binding the Wrangler file declares as the secret, and does not ask for it in `secret list`", () => {
      const store = '[[secrets_store_secrets]]\nbinding = "NIM_APP_SECRET_SG"\nstore_id = "abc"\nsecret_name = "sg"\n';
      const { status, output } = preflight(`[vars]\n${apps([cn, sg])}${KV}${store}`);
      expect(status).toBe(0);
      expect(output).toContain("must list NIM_APP_SECRET_CN, ACCID_SECRET");
    });

    it("needs the pacer only when some app paces", () => {
      const withoutPacer = `[[kv_namespaces]]\nbinding = "ACCOUNTS"\n${OBJECTS.replace(PACER, "")}`;
      const paced = preflight(`[vars]\n${apps([{ ...cn, createRate: 0 }, sg])}${withoutPacer}`);
      expect(paced.status).toBe(1);
      expect(paced.output).toContain("No Durable Object binding NIM_CREATE_PACER");
      const unpaced = preflight(
        `[vars]\n${apps([
          { ...cn, createRate: 0 },
          { ...sg, createRate: 0 },
        ])}${withoutPacer}`,
      );
      expect(unpaced.status).toBe(0);
    });
  });
});
