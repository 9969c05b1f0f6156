// pino JSON logs. Credentials are redacted by path, so a header or config object logged by mistake still
// cannot leak a token or a database password.
import pino, { type DestinationStream, type Level, type Logger } from 'pino';

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
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream ?? pino.destination(1),
  );
}
