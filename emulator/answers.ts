/** The emulator's answers: JSON bodies, and NetEase's `{code, …}` shape. */

/** A JSON answer. */
export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });

/** NetEase's answer shape: HTTP 200 with the result code in the body. */
export const nim = (code: number, extra: Record<string, unknown> = {}) => json({ code, ...extra });
