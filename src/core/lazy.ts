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

/**
 * A value loaded asynchronously (a module through `import()`) on its first use and kept; concurrent
 * first uses share one load. A failed load is forgotten, so the next use tries again: a module that
 * once failed to load must not fail every later request of the isolate (or every call of an object).
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
