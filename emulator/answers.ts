/** The emulator's answers: JSON bodies, and NetEase's `{code, …}` shape. */

/** A JSON answer. */
export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });

/** NetEase's answer shape: HTTP 200 with the result code in the body. */
export const nim = (code: number, extra: Record<string, unknown> = {}) => json({ code, ...extra });

/** A failure in a dialect's own shape: v1 `{code, desc}`, v2 `{code, msg}`. */
export const dialectAnswer = (dialect: "v1" | "v2", code: number, text: string) =>
  dialect === "v1" ? nim(code, { desc: text }) : json({ code, msg: text });
