"""powerhouse_client: upload rows to the db-powerhouse ingest endpoint from Python.

Standard library only. Rows are encoded to PostgreSQL binary COPY here (byte for byte as the
TypeScript SDK does), streamed, retried safely under one Idempotency-Key, over pinned TLS.
"""
from .bulk_copy import bulk_copy
from .cancel import Cancel
from .connect_info import Endpoint, connect_info, from_connect_info
from .describe_table import describe_table
from .errors import (
    CertificateTrustError,
    UploadAbortedError,
    UploadError,
    UploadInputError,
    UploadRejectedError,
    UploadRowError,
    UploadUnavailableError,
)
from .retry_policy import RetryPolicy
from .send_upload import Progress, RetryInfo, UploadResult
from .table_schema import SchemaColumn, TableSchema
from .tls_trust import normalize_fingerprint
from .upload_file import upload_file
from .upload_rows import upload_rows

__version__ = "0.1.0"
__all__ = [
    "Cancel",
    "CertificateTrustError",
    "Endpoint",
    "Progress",
    "RetryInfo",
    "RetryPolicy",
    "SchemaColumn",
    "TableSchema",
    "UploadAbortedError",
    "UploadError",
    "UploadInputError",
    "UploadRejectedError",
    "UploadResult",
    "UploadRowError",
    "UploadUnavailableError",
    "bulk_copy",
    "connect_info",
    "describe_table",
    "from_connect_info",
    "normalize_fingerprint",
    "upload_file",
    "upload_rows",
]
