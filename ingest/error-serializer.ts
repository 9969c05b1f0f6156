// What of an error may reach a log line. pino's standard serializer copies every enumerable field, and
// node-postgres hangs the whole connection on some errors (pg-pool sets `err.client` on an idle client's
// error): its connection parameters, its socket and the backend's cancel key (`processID`, `secretKey`). So:
// a PostgreSQL error keeps its message, SQLSTATE and severity; any other error its type, message, stack and
// plain fields (numbers, strings, flat records such as an HttpError's body), never an object of another
// class; and every string loses the password of a URL it contains.

/** `scheme://user:password@` → `scheme://user:[redacted]@` (a DSN in a message, a URL's `input`). */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'`]*:)[^\s@"'`]+@/gi;

/** Fields never copied, whatever their value. */
const DROPPED = new Set([
  'client',
  'connection',
  'connectionParameters',
  'processID',
  'secretKey',
  'password',
  'connectionString',
  'ssl',
  'stream',
  'socket',
]);

const MAX_DEPTH = 3;

export function scrubUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, '$1[redacted]@');
}

/** An Error, also one from another realm (Node's internals under a vm context, as in jest). */
function isError(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

function isPostgresError(err: Error): boolean {
  const e = err as Error & { severity?: unknown; code?: unknown };
  return typeof e.severity === 'string' && typeof e.code === 'string';
}

function primitive(value: unknown): value is string | number | boolean | null {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function safePrimitive(value: string | number | boolean | null): string | number | boolean | null {
  return typeof value === 'string' ? scrubUrlPasswords(value) : value;
}

/** A plain object of primitives (an HttpError's body or headers), copied; anything else is left out. */
function flatRecord(value: object): Record<string, unknown> | undefined {
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (DROPPED.has(k)) continue;
    if (!primitive(v)) return undefined;
    out[k] = safePrimitive(v);
  }
  return out;
}

function typeName(err: Error): string {
  return err.constructor?.name && err.constructor.name !== 'Object' ? err.constructor.name : err.name;
}

function serialize(value: unknown, depth: number): unknown {
  if (primitive(value)) return safePrimitive(value);
  if (!isError(value)) {
    if (typeof value !== 'object') return typeof value === 'function' ? '[function omitted]' : String(value);
    return flatRecord(value) ?? `[${(value.constructor as { name?: string })?.name ?? 'object'} omitted]`;
  }
  if (isPostgresError(value)) {
    const pg = value as Error & { code: string; severity: string };
    return {
      type: typeName(value),
      message: scrubUrlPasswords(pg.message),
      code: pg.code,
      severity: pg.severity,
    };
  }
  const out: Record<string, unknown> = {
    type: typeName(value),
    message: scrubUrlPasswords(value.message),
    ...(value.stack ? { stack: scrubUrlPasswords(value.stack) } : {}),
  };
  for (const [k, v] of Object.entries(value)) {
    if (DROPPED.has(k) || k === 'message' || k === 'stack') continue;
    if (primitive(v)) out[k] = safePrimitive(v);
    else if (isError(v)) {
      if (depth < MAX_DEPTH) out[k] = serialize(v, depth + 1);
    } else if (typeof v === 'object' && v !== undefined) {
      const flat = flatRecord(v);
      if (flat) out[k] = flat;
    }
  }
  const cause = (value as { cause?: unknown }).cause;
  if (cause !== undefined && !('cause' in out) && depth < MAX_DEPTH) out.cause = serialize(cause, depth + 1);
  if (value instanceof AggregateError && depth < MAX_DEPTH)
    out.errors = value.errors.map((e: unknown) => serialize(e, depth + 1));
  return out;
}

/** pino serializer for `err`: see the top of this file. */
export function serializeError(err: unknown): unknown {
  return serialize(err, 0);
}
