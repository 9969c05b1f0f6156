import { DEFAULT_PORTS } from './names';

/** Where and how the rendered files will run. Defaults are a Debian/Ubuntu host with the PGDG packages. */
export interface RenderOptions {
  pgPort: number;
  /** Where PgBouncer reaches PostgreSQL: loopback on one host, the service name in Docker. */
  pgHost: string;
  bouncerPort: number;
  /** PostgreSQL listen_addresses, e.g. 'localhost' or 'localhost,10.0.1.2'. */
  pgListen: string;
  /** PgBouncer listen_addr, e.g. '*' or '127.0.0.1'. */
  bouncerListen: string;
  /** Networks (besides loopback) allowed to reach PostgreSQL, with SCRAM: the private network. */
  allowedCidrs: readonly string[];
  /** Host PostgreSQL's unix socket directory (unix_socket_directories). */
  pgSocketDir: string;
  /**
   * WAL archiving: PostgreSQL's archive_command (config-templates/backup.ts archiveCommand). Absent: this target
   * keeps no WAL archive (archive_mode = off), and says so in the file.
   */
  archiveCommand?: string;
  /** PgBouncer file paths. */
  bouncer: {
    authFile: string;
    unixSocketDir: string;
    logFile?: string;
    pidFile?: string;
    /** TLS on PgBouncer's client port, required of every TCP client; absent: no TLS (loopback-only stacks). */
    clientTls?: BouncerClientTls;
  };
}

/** PgBouncer's certificate for its clients: PEM files PgBouncer's user can read (the key mode 0640, its group). */
export interface BouncerClientTls {
  keyFile: string;
  certFile: string;
}

export const DEFAULT_RENDER_OPTIONS: RenderOptions = {
  pgPort: DEFAULT_PORTS.postgres,
  pgHost: '127.0.0.1',
  bouncerPort: DEFAULT_PORTS.pgbouncer,
  pgListen: 'localhost',
  bouncerListen: '*',
  allowedCidrs: [],
  pgSocketDir: '/var/run/postgresql',
  bouncer: {
    authFile: '/etc/pgbouncer/userlist.txt',
    unixSocketDir: '/var/run/postgresql',
    logFile: '/var/log/postgresql/pgbouncer.log',
    pidFile: '/var/run/postgresql/pgbouncer.pid',
  },
};

export function withDefaults(opts: Partial<RenderOptions> = {}): RenderOptions {
  return {
    ...DEFAULT_RENDER_OPTIONS,
    ...opts,
    bouncer: { ...DEFAULT_RENDER_OPTIONS.bouncer, ...(opts.bouncer ?? {}) },
  };
}

/** One rendered file: `path` names it inside a render directory, `installPath` is where a host keeps it. */
export interface RenderedFile {
  readonly path: string;
  readonly installPath: string;
  readonly content: string;
  /** Octal file mode, e.g. '0644'. */
  readonly mode: string;
}
