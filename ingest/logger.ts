// pino JSON logs. Credentials are redacted by path, so a header or config object logged by mistake still
// cannot leak a token or a database password; errors go through serializeError, which never copies a
// database connection (node-postgres attaches one, cancel key included, to some errors) or a URL's password.
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import { serializeError } from './error-serializer';

export const REDACTED = '[redacted]';

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'databaseUrl',
  'migrationDatabaseUrl',
  'pgbouncerAdminUrl',
  '*.databaseUrl',
  '*.migrationDatabaseUrl',
  '*.pgbouncerAdminUrl',
  'connectionString',
  '*.connectionString',
  'password',
  '*.password',
];

export function createLogger(level: Level | 'silent', stream?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'powerhouse-ingest' },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      serializers: { err: serializeError, error: serializeError },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream ?? pino.destination(1),
  );
}
