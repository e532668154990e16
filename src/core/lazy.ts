/**
 * A value built on its first use, not when its module loads. For Valibot schemas: each schema
 * built at load time is start-up time of every isolate (measured in the bench), and most are needed
 * only by some requests (an isolate that only issues tokens never builds the admin API's schemas).
 */
export function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= build();
    return value;
  };
}
