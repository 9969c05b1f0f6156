"""TLS pinning against a real TLS front: Caddy with a certificate from the host's TLS script, in front of
the worker (the Hetzner host's path), and a recording TLS server that counts what it is sent."""
from __future__ import annotations

import pytest

from conftest import Stack
from powerhouse_client import CertificateTrustError, RetryPolicy, describe_table, normalize_fingerprint, upload_rows

TM = ["tm_id", "source", "target", "created_by"]
ONCE = RetryPolicy(max_attempts=2, base_delay=0.05)


@pytest.fixture
def tls(stack: Stack) -> dict:
    need = ("POWERHOUSE_TEST_TLS_URL", "POWERHOUSE_TEST_TLS_FP", "POWERHOUSE_TEST_TLS_PEM", "POWERHOUSE_TEST_TLS_OTHER_FP",
            "POWERHOUSE_TEST_RECORDER_URL")  # fmt: skip
    missing = [v for v in need if not stack.env.get(v)]
    if missing:
        pytest.skip(f"NO TLS FRONT (caddy absent?): {', '.join(missing)} not set")
    return {v: stack.env[v] for v in need}


def test_fingerprint_pin_in_every_pasted_form_uploads_through_caddy(stack: Stack, tls: dict, tm_id: int) -> None:
    fp = tls["POWERHOUSE_TEST_TLS_FP"]
    forms = [fp, fp.replace(":", "").lower(), f"sha256 Fingerprint={fp}"]
    assert {normalize_fingerprint(f) for f in forms} == {fp}
    for i, form in enumerate(forms):
        r = upload_rows(tls["POWERHOUSE_TEST_TLS_URL"], stack.token, "tm_entries", [(tm_id, f"tls{i}", "t", None)],
                        columns=TM, fingerprint=form, retry=ONCE)  # fmt: skip
        assert r.rows == 1
    assert stack.count(f"tm_id = {tm_id}") == 3


def test_ca_pin_as_a_path_and_as_pem_text(stack: Stack, tls: dict, tm_id: int) -> None:
    pem_path = tls["POWERHOUSE_TEST_TLS_PEM"]
    with open(pem_path, encoding="ascii") as f:
        pem = f.read()
    for ca in (pem_path, pem):
        upload_rows(tls["POWERHOUSE_TEST_TLS_URL"], stack.token, "tm_entries", [(tm_id, "ca", "t", None)], columns=TM, ca=ca, retry=ONCE)
    assert stack.count(f"tm_id = {tm_id}") == 2


def test_a_wrong_pin_sends_nothing_and_is_not_retried(stack: Stack, tls: dict, tm_id: int) -> None:
    stack.control_call("/recorder-reset")
    url = tls["POWERHOUSE_TEST_RECORDER_URL"]  # presents the "other" certificate
    with pytest.raises(CertificateTrustError) as info:
        upload_rows(url, stack.token, "tm_entries", [(tm_id, "x", "y", None)], columns=TM,
                    fingerprint=tls["POWERHOUSE_TEST_TLS_FP"], retry=RetryPolicy(max_attempts=5, base_delay=0.01))  # fmt: skip
    err = info.value
    assert (err.expected, err.presented) == (tls["POWERHOUSE_TEST_TLS_FP"], tls["POWERHOUSE_TEST_TLS_OTHER_FP"])
    assert f"expected SHA-256 {err.expected}" in str(err) and f"presented {err.presented}" in str(err)
    assert stack.token not in str(err)
    seen = stack.control_call("/recorder", method="GET")
    assert seen == {"connections": 1, "bytes": 0}, "one handshake, no request byte, no retry"


def test_a_ca_that_is_not_the_servers_is_refused_naming_both(stack: Stack, tls: dict) -> None:
    stack.control_call("/recorder-reset")
    with pytest.raises(CertificateTrustError) as info:
        describe_table(tls["POWERHOUSE_TEST_RECORDER_URL"], stack.token, "tm_entries", ca=tls["POWERHOUSE_TEST_TLS_PEM"], retry=ONCE)
    assert info.value.expected == tls["POWERHOUSE_TEST_TLS_FP"]
    assert info.value.presented == tls["POWERHOUSE_TEST_TLS_OTHER_FP"]
    assert stack.control_call("/recorder", method="GET")["bytes"] == 0


def test_no_pin_against_a_self_signed_certificate_is_refused(stack: Stack, tls: dict) -> None:
    with pytest.raises(CertificateTrustError) as info:
        describe_table(tls["POWERHOUSE_TEST_TLS_URL"], stack.token, "tm_entries", retry=ONCE)
    assert info.value.presented == tls["POWERHOUSE_TEST_TLS_FP"] and info.value.expected is None


def test_a_pin_needs_https_and_a_valid_fingerprint(stack: Stack) -> None:
    with pytest.raises(ValueError, match="https"):
        upload_rows(stack.endpoint, stack.token, "tm_entries", [], fingerprint="AB" * 32)
    with pytest.raises(ValueError, match="64 hex digits"):
        upload_rows("https://127.0.0.1:1", stack.token, "tm_entries", [], fingerprint="AB:CD")
