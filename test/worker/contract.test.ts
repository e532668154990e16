/** The published contract (OpenAPI document and schemas) against what the Worker actually does. */

import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/contract/openapi.ts";
import type { ErrorCode } from "../../src/contract/requests.ts";
import {
  adminAccountSchema,
  errorSchema,
  healthSchema,
  importResponseSchema,
  loginDecisionSchema,
  tokenResponseSchema,
} from "../../src/contract/responses.ts";
import {
  adminCall,
  call,
  emulator,
  env,
  hsJwt,
  issue,
  registerAtNetEase,
  seg,
  stockAccid,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";
import { callbackHeaders } from "./netease-signing.ts";

type Json = Record<string, unknown>;

/** The (error code → status) pairs the served document lists for one operation, read from the JSON. */
async function documentedErrors(method: string, path: string): Promise<Map<string, number>> {
  const document = await (await call("/openapi.json")).json<{ paths: Record<string, Record<string, Json>> }>();
  const responses = (document.paths[path]?.[method]?.responses ?? {}) as Record<string, Json>;
  const pairs = new Map<string, number>();
  for (const [status, response] of Object.entries(responses)) {
    const schema = (response.content as Record<string, { schema: Json }> | undefined)?.["application/json"]?.schema;
    const codes = ((schema?.allOf as Json[] | undefined)?.[1]?.properties as Json | undefined)?.error as
      | { enum?: string[] }
      | undefined;
    for (const code of codes?.enum ?? []) pairs.set(code, Number(status));
  }
  return pairs;
}

async function expectShape(response: Response, schema: v.GenericSchema): Promise<void> {
  const result = v.safeParse(schema, await response.json());
  expect(result.issues?.map((issue) => `${v.getDotPath(issue)}: ${issue.message}`) ?? []).toEqual([]);
}

type Doc = {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: { TokenRequest: { properties: { ttl: { minimum: number; maximum: number } } } } };
};

describe("GET /openapi.json", () => {
  it("serves the document for the live configuration (its ttl range)", async () => {
    const served = await (await call("/openapi.json", {}, { TOKEN_TTL_MIN: "30", TOKEN_TTL_MAX: "900" })).json<Doc>();
    expect(served.components.schemas.TokenRequest.properties.ttl).toMatchObject({ minimum: 30, maximum: 900 });
    const standard = await (await call("/openapi.json")).json<Doc>();
    expect(standard.components.schemas.TokenRequest.properties.ttl).toMatchObject({ minimum: 60, maximum: 3600 });
  });

  it("documents only routes the Worker has, and the Worker routes each of them", async () => {
    const doc = buildOpenApiDocument({ min: 60, max: 3600, default: 600 }) as Doc;
    const methods = ["get", "put", "post", "delete"];
    const admin = `Bearer ${env.ADMIN_TOKEN}`;
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => methods.includes(m))) {
        operations++;
        // Authenticated, so the answer comes from the route itself and not from an auth check in front of it.
        const body = method === "get" || method === "delete" ? undefined : "{}";
        const headers: Record<string, string> = path.includes("login-callback")
          ? callbackHeaders("{}", { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! }, Date.now())
          : // A session of its own each: one that signed out everywhere gets no more tokens.
            { Authorization: path.startsWith("/admin/") ? admin : `Bearer ${await hsJwt(uniqueUid())}` };
        if (body) headers["Content-Type"] = "application/json";
        const concrete = path
          .replace("{uid}", "someone")
          .replace("{app}", "default")
          .replace("{id}", `evt_${"0".repeat(32)}`);
        const response = await call(concrete, { method: method.toUpperCase(), headers, body });
        expect(response.status, `${method} ${path}`).not.toBe(405);
        expect(response.status, `${method} ${path}`).not.toBe(401);
        // A 404 is fine when it is about the account ("No account is bound…"), not about the route.
        expect(await response.text(), `${method} ${path}`).not.toContain("No such endpoint;");
      }
    }
    // 32 operations, and the 20 of them about one app's tokens, chatrooms, accounts or imports again
    // under /v1/apps/{app}/ and /admin/v1/apps/{app}/.
    expect(operations).toBe(52);
    // The same check would catch a route that is not there:
    const missing = await call("/admin/v1/accounts/someone/delete", {
      method: "POST",
      headers: { Authorization: admin },
    });
    expect(await missing.text()).toContain("No such endpoint;");
  });

  it("documents every error status and code the routes answer with", async () => {
    const uid = uniqueUid();
    await tokenFor(uid);
    const cases: [string, string, Response][] = [
      ["post", "/v1/token", await issue(undefined)],
      ["post", "/v1/token", await issue("x.y.z")],
      ["post", "/v1/token", await issue(await hsJwt(uniqueUid()), { ttl: 1 })],
      ["get", "/admin/v1/accounts/{uid}", await adminCall("GET", `/accounts/${seg(uniqueUid())}`)],
      ["get", "/admin/v1/accounts/{uid}", await adminCall("GET", `/accounts/${seg(uid)}`, undefined, { token: "x" })],
      ["put", "/admin/v1/accounts/{uid}", await adminCall("PUT", `/accounts/${seg(uid)}`, { accid: "other_one" })],
      [
        "post",
        "/admin/v1/accounts/{uid}/block",
        await adminCall("POST", `/accounts/${seg(uid)}/block`, "x", { contentType: "text/plain" }),
      ],
      ["post", "/v1/nim/login-callback", await call("/v1/nim/login-callback", { method: "POST", body: "{}" })],
    ];
    for (const [method, path, response] of cases) {
      const { error } = await response.json<{ error: ErrorCode }>();
      expect((await documentedErrors(method, path)).get(error), `${method} ${path} ${error}`).toBe(response.status);
    }
  });
});

describe("responses match the published schemas", () => {
  it("token, errors and health", async () => {
    await expectShape(await issue(await hsJwt(uniqueUid())), tokenResponseSchema);
    await expectShape(await issue(undefined), errorSchema);
    await expectShape(await issue("x.y.z"), errorSchema);
    await expectShape(await issue(await hsJwt(uniqueUid()), { ttl: 1 }), errorSchema);
    await expectShape(await call("/nope"), errorSchema);
    await expectShape(await call("/v1/token"), errorSchema);
    await expectShape(await call("/healthz"), healthSchema);
    await expectShape(await call("/healthz", {}, { ACCID_SECRET: "" }), healthSchema);
  });

  it("admin and callback answers", async () => {
    const uid = uniqueUid();
    const { accid } = await tokenFor(uid);
    await expectShape(await adminCall("GET", `/accounts/${seg(uid)}`), adminAccountSchema);
    await expectShape(await adminCall("POST", `/accounts/${seg(uid)}/block`), adminAccountSchema);
    await expectShape(await adminCall("POST", `/accounts/${seg(uid)}/unblock`), adminAccountSchema);
    await expectShape(await adminCall("POST", `/accounts/${seg(uid)}/rotate`), adminAccountSchema);
    const stock = stockAccid();
    await registerAtNetEase(stock);
    await expectShape(await adminCall("PUT", `/accounts/${seg(uniqueUid())}`, { accid: stock }), adminAccountSchema);
    await expectShape(
      await adminCall("POST", "/accounts/import", [{ uid: uniqueUid(), accid: "nope_not_there" }, 7]),
      importResponseSchema,
    );
    await expectShape(await adminCall("GET", `/accounts/${seg(uniqueUid())}`), errorSchema);
    const signed = await (
      await emulator("/emulator/callbacks/login", { method: "POST", body: JSON.stringify({ accid }) })
    ).json<{
      headers: Record<string, string>;
      body: string;
    }>();
    await expectShape(
      await call("/v1/nim/login-callback", { method: "POST", headers: signed.headers, body: signed.body }),
      loginDecisionSchema,
    );
  });
});
