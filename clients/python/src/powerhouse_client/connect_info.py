"""The connect info an app receives (``powerhouse token add NAME --out anna.json``, or the local
stack's DATA_DIR/connect-info.json): endpoint, token and the pinned certificate, as an Endpoint."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Optional, Sequence, Union

from .errors import UploadInputError
from .tls_trust import normalize_fingerprint


@dataclass(frozen=True)
class Endpoint:
    """Where to upload and with which token and pin. ``repr`` never shows the token."""

    url: str
    token: str = field(repr=False)
    fingerprint: Optional[str] = None
    #: The certificate PEM (an alternative pin to ``fingerprint``).
    certificate_pem: Optional[str] = field(default=None, repr=False)
    tables: Sequence[str] = ()
    token_name: Optional[str] = None

    def trust(self) -> Dict[str, Any]:
        """The pin as upload_rows/upload_file keyword arguments (the fingerprint when there is one)."""
        if self.fingerprint:
            return {"fingerprint": self.fingerprint}
        if self.certificate_pem:
            return {"ca": self.certificate_pem}
        return {}

    def upload_rows(self, table: str, rows: Iterable[Any], **kwargs: Any) -> Any:
        from .upload_rows import upload_rows

        return upload_rows(self.url, self.token, table, rows, **{**self.trust(), **kwargs})

    def upload_file(self, table: str, path: Union[str, "os.PathLike[str]"], **kwargs: Any) -> Any:
        from .upload_file import upload_file

        return upload_file(self.url, self.token, table, path, **{**self.trust(), **kwargs})


def connect_info(source: Union[str, "os.PathLike[str]", Dict[str, Any]], token: Optional[str] = None) -> Endpoint:
    """An Endpoint from connect-info JSON: a path to the file, or the parsed object.

    ``token`` overrides (or supplies, for a stack output without one) the file's token.
    """
    where = "connect info"
    if isinstance(source, dict):
        data: Any = source
    else:
        where = os.fspath(source)
        try:
            with open(where, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as err:
            raise UploadInputError(f"{where}: cannot read the connect info: {err.strerror}") from None
        except ValueError as err:
            raise UploadInputError(f"{where}: not JSON: {err}") from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("endpoint"), str):
        raise UploadInputError(f"{where}: not powerhouse connect info (version 1 with an endpoint)")
    endpoint = data["endpoint"]
    tok = token if token is not None else data.get("token")
    if not isinstance(tok, str) or not tok:
        raise UploadInputError(f"{where} has no token: pass token= (powerhouse token add NAME --out FILE writes one)")
    fp_text = data.get("fingerprintSha256")
    fp = normalize_fingerprint(fp_text) if isinstance(fp_text, str) else None
    if endpoint.startswith("https:") and fp is None:
        raise UploadInputError(f"{where}: an https endpoint without a valid fingerprintSha256 to pin")
    pem = data.get("certificatePem") if isinstance(data.get("certificatePem"), str) else None
    tables = [t for t in data.get("tables") or [] if isinstance(t, str)]
    name = data.get("tokenName") if isinstance(data.get("tokenName"), str) else None
    return Endpoint(endpoint, tok, fp, pem, tables, name)


from_connect_info = connect_info
