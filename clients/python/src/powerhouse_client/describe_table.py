"""GET /v1/tables/{table}: the writable columns and their types, with the upload's auth, pin and retries."""
from __future__ import annotations

import os
from typing import Any, Optional, Union

from .retry_policy import RetryPolicy
from .send_upload import CallOptions, get_json, table_path
from .table_schema import TableSchema, parse_table_schema


def describe_table(
    endpoint: str,
    token: str,
    table: str,
    *,
    fingerprint: Optional[str] = None,
    ca: Optional[Union[str, "os.PathLike[str]"]] = None,
    retry: Optional[RetryPolicy] = None,
    cancel: Any = None,
    _opts: Optional[CallOptions] = None,
) -> TableSchema:
    """The table's writable columns; UploadRejectedError for 401/403/404 (unknown_table)."""
    opts = _opts or CallOptions(fingerprint=fingerprint, ca=ca, retry=retry or RetryPolicy(), cancel=cancel)
    body = get_json(endpoint, token, f"v1/tables/{table_path(table)}", opts, f"GET /v1/tables/{table}")
    return parse_table_schema(body, table)
