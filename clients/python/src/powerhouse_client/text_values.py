"""Typed values given as text, by the worker's NDJSON/SDK rules (docs/INGEST-API.md "Typed values").

A port of ingest/formats/parse-integer.ts, parse-float.ts, parse-bool.ts, parse-uuid.ts and
pg-datetime.ts: the same text is accepted or refused, and gives the same binary value.
"""
from __future__ import annotations

import math
import re
import struct
from fractions import Fraction
from .field_error import FieldError, quote_for_message as _q

_PG_SPACE = " \t\n\v\f\r"
# ECMAScript String.prototype.trim(): WhiteSpace and LineTerminator (parseFloat's trim).
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

_LIMITS = {2: (-32768, 32767), 4: (-2147483648, 2147483647), 8: (-(2**63), 2**63 - 1)}
_LABEL = {2: "int2", 4: "int4", 8: "int8"}
_SMALL_DECIMAL = re.compile(r"[+-]?[0-9]{1,15}\Z")
_SCIENTIFIC = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?\Z")


def out_of_range(shown: str, width: int) -> FieldError:
    lo, hi = _LIMITS[width]
    return FieldError(f"value {_q(shown)} is out of range for {_LABEL[width]} ({lo}..{hi})")


def check_int_range(v: int, width: int) -> int:
    lo, hi = _LIMITS[width]
    if v < lo or v > hi:
        raise out_of_range(str(v), width)
    return v


def parse_integer(text: str, width: int) -> int:
    """Decimal integers plus integral decimal/exponent forms (1.0, 1e3); no radix prefixes, no ``_``."""
    t = text.strip(_PG_SPACE)
    if _SMALL_DECIMAL.match(t):
        return check_int_range_shown(int(t), width, t)
    m = _SCIENTIFIC.match(t)
    if not m or (m.group(2) == "" and not m.group(3)):
        raise FieldError("empty value is not an integer" if t == "" else f"not an integer: {_q(t)}")
    sign, int_part, frac, exp_part = m.group(1), m.group(2), m.group(3) or "", m.group(4)
    digits = (int_part + frac).lstrip("0")
    exp = (int(exp_part) if exp_part is not None else 0) - len(frac)
    if digits == "":
        return 0
    if exp < 0:
        cut = max(0, len(digits) + exp)
        if digits[cut:].strip("0"):
            raise FieldError(f"not an integer (has a fractional part): {_q(t)}")
        digits = digits[:cut]
        exp = 0
        if digits == "":
            return 0
    # 19 digits is the most an int8 can have: refuse before building a huge int from 1e999999999.
    if len(digits) + exp > 19:
        raise out_of_range(t, width)
    return check_int_range_shown(int(sign + digits + "0" * exp), width, t)


def check_int_range_shown(v: int, width: int, shown: str) -> int:
    lo, hi = _LIMITS[width]
    if v < lo or v > hi:
        raise out_of_range(shown, width)
    return v


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INFINITY = re.compile(r"([+-]?)(?:inf|infinity)\Z", re.IGNORECASE | re.ASCII)
_NAN = re.compile(r"nan\Z", re.IGNORECASE | re.ASCII)
_NONZERO_MANTISSA = re.compile(r"[^eE]*[1-9]")
_F32 = struct.Struct(">f")
_U32 = struct.Struct(">I")


def _parse_float(text: str, label: str) -> float:
    t = text.strip(_JS_SPACE)
    if _DECIMAL.match(t):
        d = float(t)
        if math.isinf(d) or (d == 0 and _NONZERO_MANTISSA.match(t)):
            raise FieldError(f"value {_q(t)} is out of range for {label}")
        return d
    inf = _INFINITY.match(t)
    if inf:
        return -math.inf if inf.group(1) == "-" else math.inf
    if _NAN.match(t):
        return math.nan
    raise FieldError(f"empty value is not a number ({label})" if t == "" else f"not a number: {_q(text)} ({label})")


def parse_float8(text: str) -> float:
    return _parse_float(text, "float8")


def fround(d: float) -> float:
    """The float32 nearest d (round half to even), inf when it overflows, like Math.fround."""
    try:
        return float(_F32.unpack(_F32.pack(d))[0])
    except OverflowError:
        return math.copysign(math.inf, d)


def parse_float4(text: str) -> float:
    """float4 rounded once from the decimal, as strtof does (not decimal -> double -> float)."""
    d = _parse_float(text, "float4")
    f = fround(d)
    if math.isfinite(d) and (not math.isfinite(f) or (f == 0 and d != 0)):
        raise FieldError(f"value {_q(text.strip(_JS_SPACE))} is out of range for float4")
    if f == d or not math.isfinite(d):
        return f
    return _float4_double_rounding_fix(text.strip(_JS_SPACE), d, f)


def _next_float32(f: float, direction: int) -> float:
    if f == 0:
        return direction * float(_F32.unpack(_U32.pack(1))[0])
    bits = _U32.unpack(_F32.pack(f))[0]
    bits += 1 if (f > 0) == (direction > 0) else -1
    return float(_F32.unpack(_U32.pack(bits))[0])


def _float4_double_rounding_fix(decimal: str, d: float, f: float) -> float:
    # d sits exactly halfway between two floats only in rare cases; then the decimal itself decides.
    other = _next_float32(f, 1 if d > f else -1)
    mid = (f + other) / 2
    if mid != d:
        return f
    m = _SCIENTIFIC.match(decimal)
    assert m is not None
    digits = int((m.group(2) or "") + (m.group(3) or "") or "0") * (-1 if m.group(1) == "-" else 1)
    exact = Fraction(digits) * Fraction(10) ** (int(m.group(4) or 0) - len(m.group(3) or ""))
    cmp = (exact > Fraction(mid)) - (exact < Fraction(mid))
    if cmp == 0:
        return f
    return other if (cmp > 0) == (other > f) else f


def _ascii_prefix(t: str, word: str, min_len: int) -> bool:
    return min_len <= len(t) <= len(word) and t.isascii() and word.startswith(t.lower())


def parse_bool(text: str) -> bool:
    """boolin: case-insensitive prefixes of true/false/yes/no, on/off (>= 2 letters), 1/0."""
    t = text.strip(_PG_SPACE)
    if t == "1":
        return True
    if t == "0":
        return False
    if _ascii_prefix(t, "true", 1) or _ascii_prefix(t, "yes", 1) or _ascii_prefix(t, "on", 2):
        return True
    if _ascii_prefix(t, "false", 1) or _ascii_prefix(t, "no", 1) or _ascii_prefix(t, "off", 2):
        return False
    raise FieldError(f"not a boolean: {_q(t)} (use true/false, t/f, yes/no, on/off or 1/0)")


_HEX = "0123456789abcdefABCDEF"


def parse_uuid(text: str) -> bytes:
    """uuid_in: 32 hex digits, optional braces, optional hyphen after any group of four."""
    bad = FieldError(f"not a uuid: {_q(text)} (expected 8-4-4-4-12 hex digits)")
    i, e = 0, len(text)
    braces = e > 0 and text[0] == "{"
    if braces:
        i = 1
    out = bytearray(16)
    for k in range(16):
        if i + 1 >= e or text[i] not in _HEX or text[i + 1] not in _HEX:
            raise bad
        out[k] = int(text[i : i + 2], 16)
        i += 2
        if k % 2 == 1 and k < 15 and i < e and text[i] == "-":
            i += 1
    if braces:
        if i >= e or text[i] != "}":
            raise bad
        i += 1
    if i != e:
        raise bad
    return bytes(out)


DATE_POS_INFINITY = 0x7FFFFFFF
DATE_NEG_INFINITY = -0x80000000
TS_POS_INFINITY = 2**63 - 1
TS_NEG_INFINITY = -(2**63)
_PG_EPOCH_ORDINAL = 730120  # date(2000, 1, 1).toordinal()


def _digits(t: str, i: int, n: int) -> int:
    part = t[i : i + n]
    if len(part) != n or not (part.isascii() and part.isdigit()):
        return -1
    return int(part)


def _infinity(t: str) -> int:
    sign = 1
    s = t
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    return sign if s.isascii() and s.lower() == "infinity" else 0


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _date_part(t: str, label: str) -> int:
    y = _digits(t, 0, 4)
    m = _digits(t, 5, 2) if t[4:5] == "-" else -1
    d = _digits(t, 8, 2) if t[7:8] == "-" else -1
    if y < 0 or m < 0 or d < 0:
        form = "YYYY-MM-DD" + ("" if label == "date" else "THH:MM:SS")
        raise FieldError(f"not a {label}: {_q(t)} (expected ISO 8601, {form})")
    if y < 1 or m < 1 or m > 12 or d < 1 or d > _days_in_month(y, m):
        raise FieldError(f"no such date: {_q(t)}")
    return _days_from_civil(y, m, d)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 2000-01-01 of a proleptic Gregorian date."""
    y -= 1 if m <= 2 else 0
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 - 10957


def parse_date(text: str) -> int:
    """Days since 2000-01-01 of YYYY-MM-DD (years 0001-9999), or the ±infinity sentinels."""
    t = text.strip(_PG_SPACE)
    inf = _infinity(t)
    if inf:
        return DATE_POS_INFINITY if inf > 0 else DATE_NEG_INFINITY
    days = _date_part(t, "date")
    if len(t.encode("utf-8")) != 10:
        raise FieldError(f"not a date: {_q(t)} (expected YYYY-MM-DD)")
    return days


def _bad_time(t: str, label: str) -> FieldError:
    zone = " with Z or +HH:MM" if label == "timestamptz" else ""
    return FieldError(f"not a {label}: {_q(t)} (expected ISO 8601, YYYY-MM-DD[THH:MM[:SS[.ffffff]]]{zone})")


def parse_timestamp(text: str, with_zone: bool) -> int:
    """Microseconds since 2000-01-01 (UTC for timestamptz, which must carry an offset)."""
    label = "timestamptz" if with_zone else "timestamp"
    t = text.strip(_PG_SPACE)
    inf = _infinity(t)
    if inf:
        return TS_POS_INFINITY if inf > 0 else TS_NEG_INFINITY
    days = _date_part(t, label)
    e = len(t)
    i = 10
    secs = micros = 0
    has_time = False
    if i < e and t[i] in "Tt ":
        h = _digits(t, i + 1, 2)
        mi = _digits(t, i + 4, 2) if t[i + 3 : i + 4] == ":" else -1
        if h < 0 or mi < 0:
            raise _bad_time(t, label)
        i += 6
        sec = 0
        if i < e and t[i] == ":":
            sec = _digits(t, i + 1, 2)
            if sec < 0:
                raise _bad_time(t, label)
            i += 3
            if i < e and t[i] == ".":
                i += 1
                fs = i
                while i < e and "0" <= t[i] <= "9":
                    i += 1
                n = i - fs
                if n == 0:
                    raise _bad_time(t, label)
                if n <= 6:
                    micros = int(t[fs:i]) * 10 ** (6 - n)
                else:
                    # PostgreSQL: rint(strtod(".ddddddd") * 1e6); round() on a float is half-even too.
                    micros = round(float("0." + t[fs:i]) * 1e6)
        if mi > 59 or sec > 60 or (h * 3600 + mi * 60 + sec) * 1_000_000 + micros > 86_400_000_000:
            raise FieldError(f"no such time of day in {label} {_q(t)}")
        secs = h * 3600 + mi * 60 + sec
        has_time = True
    j = i
    while j < e and t[j] == " ":
        j += 1
    offset = None
    if j < e:
        c = t[j]
        if c in "Zz" and j + 1 == e:
            offset = 0
        elif c in "+-":
            oh = _digits(t, j + 1, 2)
            om = 0
            k = j + 3
            if oh >= 0 and k < e:
                if t[k] == ":":
                    k += 1
                om = _digits(t, k, 2)
                k += 2
            if oh < 0 or om < 0 or om > 59 or oh > 15 or k != e:
                raise FieldError(f"bad UTC offset in {label} {_q(t)} (use Z, +HH, +HHMM or +HH:MM)")
            offset = (-1 if c == "-" else 1) * (oh * 3600 + om * 60)
        else:
            raise _bad_time(t, label)
        if not has_time:
            raise _bad_time(t, label)
    if with_zone and offset is None:
        raise FieldError(
            f"timestamptz {_q(t)} has no UTC offset; add Z or +HH:MM (otherwise the server's TimeZone would decide)"
        )
    if not with_zone and offset is not None:
        raise FieldError(
            f"timestamp (without time zone) {_q(t)} has a UTC offset, which PostgreSQL would silently drop; "
            "remove it or use a timestamptz column"
        )
    return (days * 86400 + secs - (offset or 0)) * 1_000_000 + micros


def days_since_2000(ordinal: int) -> int:
    return ordinal - _PG_EPOCH_ORDINAL
