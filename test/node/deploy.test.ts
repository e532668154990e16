/** `npm run deploy` (scripts/deploy.ts): the preflight checks the environment and --var values wrangler deploys. */

import { describe, expect, it } from "vitest";
import { deployTarget } from "../../scripts/deploy.ts";

describe("what npm run deploy tells the preflight (deployTarget)", () => {
  it("takes --env, -e and --env=, the argument over CLOUDFLARE_ENV", () => {
    expect(deployTarget([], undefined)).toEqual({ env: undefined, vars: {} });
    expect(deployTarget([], "staging").env).toBe("staging");
    expect(deployTarget(["--env", "production"], "staging").env).toBe("production");
    expect(deployTarget(["-e", "production"], undefined).env).toBe("production");
    expect(deployTarget(["--env=production", "--minify"], undefined).env).toBe("production");
  });

  it("takes every --var NAME:VALUE, in each form wrangler takes, values with colons kept whole", () => {
    expect(deployTarget(["--var", "LOCAL_DEVELOPMENT:true"], undefined).vars).toEqual({ LOCAL_DEVELOPMENT: "true" });
    expect(
      deployTarget(["--var", "A:1", "NIM_API_BASE:http://127.0.0.1:8788/nimserver", "--env", "x"], undefined),
    ).toEqual({ env: "x", vars: { A: "1", NIM_API_BASE: "http://127.0.0.1:8788/nimserver" } });
    expect(deployTarget(["--var=A:1", "--var", "B:2"], undefined).vars).toEqual({ A: "1", B: "2" });
  });

  it("refuses an option without its value", () => {
    expect(() => deployTarget(["--env"], undefined)).toThrow("--env needs a value");
    expect(() => deployTarget(["--var", "NOCOLON"], undefined)).toThrow("--var takes NAME:VALUE");
  });
});
