/**
 * What an import keeps in the operators' bucket (R2 `ADMIN_FILES`), under `imports/<id>/`:
 *
 * - `file`: the uploaded file, as sent (NDJSON or a JSON array);
 * - `import.json`: what the upload found (`ImportManifest`), written once;
 * - `progress.json`: the counts so far, rewritten by each step (`ImportProgress`);
 * - `results/<step>.ndjson`: each step's rows and their outcomes, in line order;
 * - `steps/<step>`: an empty marker a step leaves when it starts, so a step run again (after a
 *   failure or a restart) knows that some of its rows may already be bound by it.
 *
 * The upload streams into the bucket as it arrives, never holding the file: a body of unknown
 * length goes up as a multipart upload of equal parts, the way R2 wants them.
 */

import { IMPORT } from "../core/constants.ts";
import { FramingError, type ImportFormat, RowFramer } from "./rows.ts";

/** Where a step's rows start in the file: the byte offset, line and place (from 0) of its first row. */
export interface StepStart {
  offset: number;
  line: number;
  index: number;
}

/** What the upload found; written once, beside the file. */
export interface ImportManifest {
  id: string;
  /** The NetEase app the rows are bound in. */
  app: string;
  format: ImportFormat;
  rows: number;
  bytes: number;
  /** Who started it: an Access email, `service-token:<name>` or `admin token`. */
  operator: string;
  /** When it was uploaded (ISO 8601). */
  createdAt: string;
}

/** How each row ended. `already_bound` rows are the "unchanged" of the counts. */
export type RowOutcome = "bound" | "already_bound" | "conflict" | "invalid" | "failed";

/** The counts an import reports: rows `done` so far, and how each ended. */
export interface ImportCounts {
  done: number;
  bound: number;
  unchanged: number;
  conflict: number;
  invalid: number;
  failed: number;
}

/** The counts so far; rewritten by each step. */
export interface ImportProgress {
  counts: ImportCounts;
  /** Steps finished, of `steps`. */
  stepsDone: number;
  steps: number;
  /** When the first step started and the last one finished (ms since the epoch). */
  startedAt: number;
  updatedAt: number;
  /** Set by the last step: when the import finished. */
  finishedAt?: number;
}

/** Counts of nothing. */
export function noCounts(): ImportCounts {
  return { done: 0, bound: 0, unchanged: 0, conflict: 0, invalid: 0, failed: 0 };
}

/** The count a row's outcome adds to. */
export function countOf(outcome: RowOutcome): Exclude<keyof ImportCounts, "done"> {
  return outcome === "already_bound" ? "unchanged" : outcome;
}

/** `a` + `b`. */
export function addCounts(a: ImportCounts, b: ImportCounts): ImportCounts {
  const sum = noCounts();
  for (const key of Object.keys(sum) as (keyof ImportCounts)[]) sum[key] = a[key] + b[key];
  return sum;
}

/** The bucket's keys for one import. */
export const importKeys = (id: string) => ({
  prefix: `imports/${id}/`,
  file: `imports/${id}/file`,
  manifest: `imports/${id}/import.json`,
  progress: `imports/${id}/progress.json`,
  results: `imports/${id}/results/`,
  result: (step: number) => `imports/${id}/results/${String(step).padStart(6, "0")}.ndjson`,
  marker: (step: number) => `imports/${id}/steps/${String(step).padStart(6, "0")}`,
});

/**
 * Where an app's imports are listed, newest first: an empty object per import, its key the time
 * counted down (so R2, which lists in ascending order, lists the newest first), then the id.
 */
export const importIndex = {
  prefix: (app: string) => `import-index/${app}/`,
  key: (app: string, id: string, now: number) =>
    `import-index/${app}/${(Number.MAX_SAFE_INTEGER - now).toString(36).padStart(11, "0")}-${id}`,
  /** The import id at the end of an index key. */
  idOf: (key: string) => key.slice(key.lastIndexOf("-") + 1),
};

/** A new import's id: its creation time first (so ids sort by age), then 64 random bits. */
export function newImportId(now = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  const hex = Array.from(random, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `imp_${now.toString(36).padStart(9, "0")}${hex}`;
}

/** What the upload found, and where each step starts. */
export interface StoredFile {
  rows: number;
  bytes: number;
  starts: StepStart[];
}

/** Why an upload was refused: the file's framing is broken, or it has too many rows or none. */
export class ImportFileRefused extends Error {
  override readonly name = "ImportFileRefused";
}

/** R2's multipart parts: all but the last the same size, at least 5 MiB. */
const PART_BYTES = 8 * 1024 * 1024;

/**
 * Streams `body` into the bucket at `key` while finding its rows. Throws `ImportFileRefused` (nothing
 * kept) for a file that cannot be imported; any other failure is the bucket's (nothing kept either).
 */
export async function storeImportFile(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  format: ImportFormat,
): Promise<StoredFile> {
  const starts: StepStart[] = [];
  const framer = new RowFramer(format, ({ index, offset, line }) => {
    if (index % IMPORT.rowsPerStep === 0) starts.push({ offset, line, index });
  });
  const writer = new PartWriter(bucket, key, format);
  let bytes = 0;
  try {
    const reader = body.getReader();
    const next = () =>
      reader.read().catch(() => {
        throw new ImportFileRefused("The body could not be read to its end; send the file again.");
      });
    for (let read = await next(); !read.done; read = await next()) {
      bytes += read.value.byteLength;
      framer.push(read.value);
      if (framer.rows > IMPORT.maxRows) {
        throw new ImportFileRefused(`At most ${IMPORT.maxRows} rows per import; split the file.`);
      }
      await writer.write(read.value);
    }
    framer.finish(true);
    if (framer.rows === 0) throw new ImportFileRefused("The file has no rows.");
    await writer.close();
  } catch (error) {
    await writer.abort();
    if (error instanceof FramingError) throw new ImportFileRefused(`The file cannot be read: ${error.message}.`);
    throw error;
  }
  return { rows: framer.rows, bytes, starts };
}

/** Writes a stream of unknown length to R2: one put when it fits a part, else a multipart upload. */
class PartWriter {
  readonly #part = new Uint8Array(PART_BYTES);
  #length = 0;
  #upload: R2MultipartUpload | undefined;
  readonly #parts: R2UploadedPart[] = [];
  #closed = false;

  constructor(
    readonly bucket: R2Bucket,
    readonly key: string,
    readonly format: ImportFormat,
  ) {}

  get #options(): R2PutOptions {
    return { httpMetadata: { contentType: this.format === "json" ? "application/json" : "application/x-ndjson" } };
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let from = 0; from < bytes.byteLength; ) {
      const taken = Math.min(PART_BYTES - this.#length, bytes.byteLength - from);
      this.#part.set(bytes.subarray(from, from + taken), this.#length);
      this.#length += taken;
      from += taken;
      if (this.#length === PART_BYTES) await this.#sendPart();
    }
  }

  async #sendPart(): Promise<void> {
    this.#upload ??= await this.bucket.createMultipartUpload(this.key, this.#options);
    // A copy: the buffer is refilled while R2 may still read the part.
    this.#parts.push(await this.#upload.uploadPart(this.#parts.length + 1, this.#part.slice(0, this.#length)));
    this.#length = 0;
  }

  async close(): Promise<void> {
    if (!this.#upload) await this.bucket.put(this.key, this.#part.subarray(0, this.#length), this.#options);
    else {
      if (this.#length > 0) await this.#sendPart();
      await this.#upload.complete(this.#parts);
    }
    this.#closed = true;
  }

  /** Drops what was sent (best effort: a leftover multipart upload expires by itself). */
  async abort(): Promise<void> {
    if (this.#closed) await this.bucket.delete(this.key).catch(() => undefined);
    else await this.#upload?.abort().catch(() => undefined);
  }
}
