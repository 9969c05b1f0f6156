export * from './settings';
export * from './names';
export * from './tiers';
export * from './secrets';
export * from './roles';
export { dsn, redactDsn, type DsnParts } from './dsn';
export {
  tune,
  type TuneOptions,
  memoryWorstCaseMiB,
  WORK_MEM_FACTOR,
  BACKEND_OVERHEAD_MIB,
  ADMIN_CONNECTION_MARGIN,
  INGEST_OPS_CONNECTIONS,
} from './tune';
export { render, renderedFile } from './render';
export {
  type RenderOptions,
  type RenderedFile,
  type BouncerClientTls,
  DEFAULT_RENDER_OPTIONS,
  withDefaults,
} from './render-options';
export { renderUserlist, type BouncerUser } from './render-pgbouncer';
export { pgValue } from './render-postgresql';
export { scramVerifier, isScramVerifier, SCRAM_ITERATIONS } from './scram';
export { plan, type Plan, type PlanInput, type TierFit, type MemoryLine } from './plan';
export {
  HETZNER_SERVER_TYPES,
  HETZNER_PRICES_AS_OF,
  HETZNER_VOLUME_EUR_PER_GB_MONTH,
  type ServerType,
} from './hetzner';
export { pgtune, type PgTuneValues } from './pgtune';
export { resolveTier, flagName, type TierSpec, type InputName } from './resolve-tier';
export {
  BACKUP_STANZA,
  CIPHER_PASS_ENV,
  WAL_SEGMENT_BYTES,
  archiveCommand,
  backupSettings,
  describeRepository,
  renderPgBackRestConf,
  renderRepositoryConf,
  type PgBackRestPaths,
  type RepositoryConfig,
} from './backup';
export {
  BACKUP_STATUS_VERSION,
  backupSetSchema,
  backupStatusSchema,
  type BackupSet,
  type BackupStatus,
} from './backup-status';
export {
  CONNECT_INFO_VERSION,
  FINGERPRINT_FORMAT,
  normalizeFingerprint,
  connectInfoSchema,
  parseConnectInfo,
  type ConnectInfo,
} from './connect-info';
