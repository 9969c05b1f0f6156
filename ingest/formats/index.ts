// The ingest worker's format layer: content types, target columns, readers/framers per format, the binary
// COPY encoder (also used standalone by the client SDK), and the mapping of COPY errors back to rows.
export { type UploadFormat, MEDIA_TYPES, formatFromContentType } from './content-type';
export { type ColumnInfo, resolveColumns, selectWritable } from './columns';
export { RowError, LimitError, BadRequestError } from './errors';
export { type CopyEncoder, type CopyEncoderOptions, createCopyEncoder } from './copy-encoder';
export { copyStatement, quoteIdent } from './copy-statement';
export { mapCopyError, type CopyErrorLike } from './copy-error-map';
export { hasBinaryEncoder } from './column-types';
export { DEVIATIONS, type Deviation, type DeviationEffect } from './deviations';
export {
  PGCOPY_HEADER,
  PGCOPY_TRAILER,
  PgCopyRowEncoder,
  type PgCopyRow,
  type RowEncoderOptions,
  binaryCopySupported,
  encodePgCopy,
  encodeRows,
  pgcopyHeader,
  pgcopyTrailer,
} from './pgcopy-encoder';
