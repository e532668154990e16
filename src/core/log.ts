/**
 * Structured logs: one JSON object per line, which Workers Logs indexes field by field.
 * Callers pass fields they chose; nothing here reads requests, so a secret can only reach a log
 * line if a caller puts it there (and none does: see the log-hygiene tests).
 */

/** A log line's fields. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Writes one structured log line. */
export function logLine(level: "info" | "warn" | "error", fields: LogFields): void {
  const line = JSON.stringify({ level, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
