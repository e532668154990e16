// The bench's counting entry (bench/cost.ts copies it beside a built Worker's main module): the
// Worker exactly as built, with every binding it bills through wrapped to count what it does. KV
// reads and writes, Durable Object requests (each RPC call is one billed request), SQLite rows read
// and written inside the objects, alarms set, Analytics Engine points, and log lines with their
// bytes. GET /__bench/counts answers the counts; nothing else differs from the Worker.

import worker, * as exported from "./WORKER_MAIN";

const counts = {
  requests: 0,
  kvReads: 0,
  kvWrites: 0,
  kvDeletes: 0,
  kvLists: 0,
  doRequests: 0,
  sqlRowsRead: 0,
  sqlRowsWritten: 0,
  alarmsSet: 0,
  analyticsPoints: 0,
  logLines: 0,
  logBytes: 0,
};
/** SQL cursors: their rows are counted when the counts are read, after they are consumed. */
const cursors = [];

for (const level of ["log", "info", "warn", "error"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    counts.logLines++;
    counts.logBytes += args.map(String).join(" ").length;
    original(...args);
  };
}

const bound = (target, key) => {
  const value = Reflect.get(target, key);
  return typeof value === "function" ? value.bind(target) : value;
};

function countingKv(kv) {
  const kinds = { get: "kvReads", getWithMetadata: "kvReads", put: "kvWrites", delete: "kvDeletes", list: "kvLists" };
  return new Proxy(kv, {
    get(target, key) {
      const value = bound(target, key);
      const kind = kinds[key];
      if (!kind) return value;
      return (keyOrKeys, ...rest) => {
        // A get of several keys is one read per key (Workers KV's billing).
        counts[kind] += Array.isArray(keyOrKeys) ? keyOrKeys.length : 1;
        return value(keyOrKeys, ...rest);
      };
    },
  });
}

function countingStub(stub) {
  return new Proxy(stub, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== "function" || typeof key !== "string" || key === "then") return value;
      return (...args) => {
        counts.doRequests++;
        return Reflect.apply(value, target, args);
      };
    },
  });
}

function countingNamespace(namespace) {
  return new Proxy(namespace, {
    get(target, key) {
      const value = bound(target, key);
      if (key !== "get" && key !== "getByName") return value;
      return (...args) => countingStub(value(...args));
    },
  });
}

function countingEnv(env) {
  const wrapped = { ...env };
  if (env.ACCOUNTS) wrapped.ACCOUNTS = countingKv(env.ACCOUNTS);
  for (const name of ["ACCOUNT_OBJECTS", "NIM_CREATE_PACER"]) {
    if (env[name]) wrapped[name] = countingNamespace(env[name]);
  }
  if (env.METRICS) {
    wrapped.METRICS = {
      writeDataPoint(point) {
        counts.analyticsPoints++;
        env.METRICS.writeDataPoint(point);
      },
    };
  }
  return wrapped;
}

/** One countingEnv per Env object: the Worker keys its runtime on the Env's identity. */
const envs = new WeakMap();
const countedEnv = (env) => {
  if (!envs.has(env)) envs.set(env, countingEnv(env));
  return envs.get(env);
};

function countingStorage(storage) {
  const sql = new Proxy(storage.sql, {
    get(target, key) {
      const value = bound(target, key);
      if (key !== "exec") return value;
      return (...args) => {
        const cursor = value(...args);
        cursors.push(cursor);
        return cursor;
      };
    },
  });
  return new Proxy(storage, {
    get(target, key) {
      if (key === "sql") return sql;
      const value = bound(target, key);
      if (key !== "setAlarm") return value;
      return (...args) => {
        counts.alarmsSet++;
        return value(...args);
      };
    },
  });
}

function countingState(state) {
  const storage = countingStorage(state.storage);
  return new Proxy(state, {
    get(target, key) {
      return key === "storage" ? storage : bound(target, key);
    },
  });
}

/** A Durable Object class whose state and env count, or undefined where the Worker exports none. */
const counting = (Base) =>
  Base &&
  class extends Base {
    constructor(state, env) {
      // The runtime's base class checks its state's type: it gets the real one, and the object's
      // code then reads the counting one (an own property shadows the base's).
      super(state, env);
      Object.defineProperty(this, "ctx", { value: countingState(state) });
      Object.defineProperty(this, "env", { value: countedEnv(env) });
    }
  };

export const AccountObject = counting(exported.AccountObject);
export const CreatePacer = counting(exported.CreatePacer);

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__bench/counts") {
      let sqlRowsRead = 0;
      let sqlRowsWritten = 0;
      for (const cursor of cursors) {
        sqlRowsRead += cursor.rowsRead;
        sqlRowsWritten += cursor.rowsWritten;
      }
      return Response.json({ ...counts, sqlRowsRead, sqlRowsWritten });
    }
    counts.requests++;
    return worker.fetch(request, countedEnv(env), ctx);
  },
};
