/** The published contract (OpenAPI document and schemas) against what the Worker actually does. */

import * as v from "valibot";
import { describe, expect, it } from "vitest";
import {
  adminAccountSchema,
  errorSchema,
  healthSchema,
  importResponseSchema,
  loginDecisionSchema,
  tokenResponseSchema,
} from "../../src/contract.ts";
import { buildOpenApiDocument } from "../../src/openapi.ts";
import {
  adminCall,
  call,
  emulator,
  hsJwt,
  issue,
  registerAtNetEase,
  seg,
  stockAccid,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";

async function expectShape(response: Response, schema: v.GenericSchema): Promise<void> {
  const result = v.safeParse(schema, await response.json());
  expect(result.issues?.map((issue) => `${v.getDotPath(issue)}: ${issue.message}`) ?? []).toEqual([]);
}

describe("GET /openapi.json", () => {
  it("serves the document built from the live configuration", async () => {
    const response = await call("/openapi.json");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(buildOpenApiDocument({ min: 60, max: 3600, default: 600 }));
  });

  it("documents only routes the Worker has", async () => {
    const doc = buildOpenApiDocument({ min: 60, max: 3600, default: 600 }) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const methods = ["get", "put", "post", "delete", "patch"];
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => methods.includes(m))) {
        operations++;
        const response = await call(path.replace("{uid}", "someone"), { method: method.toUpperCase() });
        // A 404 is fine when it is about the account ("No account is bound…"), not about the route.
        expect(response.status, `${method} ${path}`).not.toBe(405);
        const text = await response.text();
        expect(text, `${method} ${path}`).not.toContain("No such endpoint.");
      }
    }
    expect(operations).toBe(10);
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
