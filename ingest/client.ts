// The client SDK a desktop app (or the `powerhouse upload` command) uses to send rows to the ingest worker:
// binary COPY encoded on the uploader's machine with the worker's own encoder, streamed with backpressure,
// retried safely under one Idempotency-Key. Contract: docs/INGEST-API.md.
export { uploadRows, type UploadRow, type RowSource, type UploadRowsOptions } from './client/upload-rows';
export { uploadFile, fileFormat, type FileFormat, type UploadFileOptions } from './client/upload-file';
export { describeTable, type DescribeOptions } from './client/describe-table';
export type { UploadCallOptions, UploadProgress, UploadResult } from './client/send-upload';
export type { RetryPolicy, RetryInfo } from './client/retry-policy';
export { DEFAULT_RETRY } from './client/retry-policy';
export { UploadInputError, type SchemaColumn, type TableSchema } from './client/table-schema';
export {
  UploadError,
  UploadRowError,
  UploadRejectedError,
  UploadUnavailableError,
  UploadAbortedError,
} from './client/errors';
export { CertificateTrustError, type TlsTrustOptions } from './client/tls-trust';
export {
  whoami,
  listTokens,
  addToken,
  revokeToken,
  listUploads,
  EndpointError,
  EndpointUnreachableError,
  type AdminCallOptions,
  type Whoami,
  type TokenInfo,
  type UploadRecord,
  type UploadFilter,
} from './client/admin';
