"""Which server certificate the client trusts, checked after the handshake and before any request byte.

A deployed endpoint is reached by IP with a self-signed certificate, so the app pins it: ``fingerprint``
(its SHA-256; the server must present exactly that certificate) or ``ca`` (its PEM, or a CA's, checked
as for any HTTPS site: chain, dates, and the IP address or name). Without either, an https endpoint is
checked against the system's CAs. No option turns checking off; a failed check is never retried.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Optional, Union

from .errors import CertificateTrustError

_FP_PREFIX = re.compile(r"^sha-?256(\s+fingerprint)?\s*[=:]\s*", re.IGNORECASE)


def normalize_fingerprint(text: str) -> Optional[str]:
    """``AB:CD:…`` (64 hex digits) from that form, plain hex or openssl's "sha256 Fingerprint=…"; else None."""
    hexdigits = re.sub(r"[:\s]", "", _FP_PREFIX.sub("", text.strip())).upper()
    if not re.fullmatch(r"[0-9A-F]{64}", hexdigits):
        return None
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2))


def der_fingerprint(der: bytes) -> str:
    h = hashlib.sha256(der).hexdigest().upper()
    return ":".join(h[i : i + 2] for i in range(0, 64, 2))


@dataclass(frozen=True)
class Trust:
    """The checked pin of one call."""

    fingerprint: Optional[str] = None
    ca_pem: Optional[str] = None
    ca_fingerprint: Optional[str] = None


def resolve_trust(scheme: str, fingerprint: Optional[str], ca: Optional[Union[str, os.PathLike]]) -> Optional[Trust]:
    """Checks the options once per call: a malformed pin is a ValueError before any connection."""
    if fingerprint is None and ca is None:
        return None
    if scheme != "https":
        raise ValueError(f"a pinned certificate (ca or fingerprint) needs an https:// endpoint, got {scheme}://")
    fp = None
    if fingerprint is not None:
        fp = normalize_fingerprint(fingerprint)
        if fp is None:
            raise ValueError("fingerprint must be the SHA-256 of the certificate: 64 hex digits, with or without colons")
    pem = None
    ca_fp = None
    if ca is not None:
        pem = str(ca)
        if "-----BEGIN CERTIFICATE-----" not in pem:
            try:
                with open(ca, encoding="ascii") as f:
                    pem = f.read()
            except OSError as err:
                raise ValueError(f"ca: cannot read {str(ca)!r}: {err.strerror}") from None
        try:
            ca_fp = der_fingerprint(ssl.PEM_cert_to_DER_cert(_first_pem(pem)))
        except ValueError:
            raise ValueError("ca must be a PEM certificate (-----BEGIN CERTIFICATE----- …) or a path to one") from None
    return Trust(fp, pem, ca_fp)


def _first_pem(pem: str) -> str:
    end = "-----END CERTIFICATE-----"
    start = pem.index("-----BEGIN CERTIFICATE-----")
    return pem[start : pem.index(end, start) + len(end)]


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return True
    except OSError:
        return False


def _presented(host: str, port: int, timeout: float) -> Optional[str]:
    """The certificate the server presents, from a second handshake that sends no request byte."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=None if _is_ip(host) else host) as tls:
                der = tls.getpeercert(binary_form=True)
                return der_fingerprint(der) if der else None
    except (OSError, ssl.SSLError):
        return None


def wrap(sock: socket.socket, host: str, port: int, trust: Optional[Trust], timeout: float) -> ssl.SSLSocket:
    """TLS over a connected socket; returns only when the certificate is the trusted one."""
    where = f"{host}:{port}"
    sni = None if _is_ip(host) else host
    if trust is not None and trust.fingerprint is not None and trust.ca_pem is None:
        # The pin is the whole check: handshake without chain checks, then compare the DER's SHA-256.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cadata=trust.ca_pem if trust else None)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        tls = ctx.wrap_socket(sock, server_hostname=host if ctx.check_hostname else sni)
    except ssl.SSLCertVerificationError as err:
        presented = _presented(host, port, timeout)
        sock.close()
        reason = err.verify_message or str(err)
        if trust is not None and trust.ca_pem is not None:
            raise CertificateTrustError(
                f"certificate not trusted at {where} ({reason}): expected the pinned certificate SHA-256 "
                f"{trust.ca_fingerprint}, the server presented {presented}. Nothing was sent.",
                trust.ca_fingerprint,
                presented,
                reason,
            ) from None
        raise CertificateTrustError(
            f"certificate not trusted at {where} ({reason}); the server presented SHA-256 {presented}. "
            "A deployed powerhouse endpoint has a self-signed certificate: pin it with the ca or fingerprint "
            "option, taken from the stack's connect info, not from this message. Nothing was sent.",
            None,
            presented,
            reason,
        ) from None
    if trust is not None and trust.fingerprint is not None:
        der = tls.getpeercert(binary_form=True)
        presented = der_fingerprint(der) if der else None
        if presented != trust.fingerprint:
            tls.close()
            raise CertificateTrustError(
                f"certificate pin mismatch at {where}: expected SHA-256 {trust.fingerprint}, the server presented "
                f"{presented or 'no certificate'}. Nothing was sent. If the server was rebuilt, take the new "
                "fingerprint from its connect info (powerhouse connect-info); otherwise someone else answered.",
                trust.fingerprint,
                presented,
            )
    return tls
