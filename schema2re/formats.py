"""`format` values as regexes of the string CONTENT (no quotes), sound subsets of each format.

Contract of `format_regex(fmt)`: every string the regex matches is valid for the format both
under its RFC and under the checker `jsonschema`'s FormatChecker uses for it when that checker
is installed (date, time, date-time: rfc3339-validator and `datetime.date.fromisoformat`; email:
contains "@"; ipv4 (draft 3: ip-address)/ipv6: `ipaddress`; uuid: `uuid.UUID` with hyphens;
hostname (draft 3: host-name): `fqdn`; uri/uri-reference: `rfc3987`/`rfc3986-validator`;
duration: `isoduration`). The regexes are printable ASCII without `"` or `\\` as literal
characters, so the text is also its own JSON string content. What is left out on purpose
(sound subsets):
- date-time/time: leap seconds (`60`: rfc3339-validator rejects them), a space for `T`;
- email: quoted local parts, IP-literal domains, non-ASCII; the local part is a dot-atom of at
  most 64 characters (one atom, or up to 3 atoms of up to 20), the domain a hostname of at
  most 167 characters (4 labels of up to 40, or 8 of up to 20): 254 characters in all;
- hostname: names of more than 253 characters are never produced: at most 4 labels of up to
  62 characters, or at most 16 labels of up to 14 characters (RFC 1123 labels, no final dot);
- ipv6: zone ids; uri/uri-reference: IPvFuture literals; everything non-ASCII;
- iri/iri-reference, idn-email, idn-hostname: their ASCII subsets (uri, uri-reference, email,
  hostname); relative-json-pointer: index manipulation (`0+1`) and prefixes with a digit after
  a "0" (`100`); uri-template: the reserved operators `= , ! @ |`; regex: a regular subset
  that ECMA-262 (u-mode) and Python's `re` both compile: no backslash, groups nested at most
  once, counts `{n}`, `{n,}` (n <= 99) and `{n,m}` (one-digit n, m >= n up to 99), classes of
  single characters and `a-z A-Z 0-9`.
Unknown formats raise `UnsupportedSchemaError(keyword="format")`.
"""

from __future__ import annotations

from schema2re.errors import UnsupportedSchemaError

# Formats defined by some JSON Schema draft. Others are annotations that no validator asserts,
# so they are ignored (exactly); these are asserted, or refused by the string builder.
STANDARD_FORMATS = frozenset({
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
    "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
    "json-pointer", "relative-json-pointer", "regex",
    "color", "host-name", "ip-address", "utc-millisec", "phone", "style",  # draft 3
})

_D = "[0-9]"
_HEX = "[0-9a-fA-F]"

# --- dates and times (RFC 3339, years 0001-9999, real calendar days) -------------------------
_YEAR = f"(?:[1-9]{_D}{{3}}|0[1-9]{_D}{{2}}|00[1-9]{_D}|000[1-9])"
_MONTH_DAY = ("(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
              "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
              "|02-(?:0[1-9]|1[0-9]|2[0-8]))")
_LEAP_YEAR = f"(?:{_D}{{2}}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_HOUR = "(?:[01][0-9]|2[0-3])"
_MINUTE = "[0-5][0-9]"
TIME = (f"{_HOUR}:{_MINUTE}:{_MINUTE}(?:\\.{_D}+)?"
        f"(?:[Zz]|[+-]{_HOUR}:{_MINUTE})")
DATE_TIME = f"{DATE}[Tt]{TIME}"

# --- duration (RFC 3339 appendix A, as JSON Schema defines it) -------------------------------
_N = f"{_D}+"
_DUR_TIME = f"T(?:{_N}H(?:{_N}M(?:{_N}S)?)?|{_N}M(?:{_N}S)?|{_N}S)"
_DUR_DATE = f"(?:{_N}D|{_N}M(?:{_N}D)?|{_N}Y(?:{_N}M(?:{_N}D)?)?)(?:{_DUR_TIME})?"
DURATION = f"P(?:{_DUR_DATE}|{_DUR_TIME}|{_N}W)"

# --- addresses -----------------------------------------------------------------------------
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = f"{_OCTET}(?:\\.{_OCTET}){{3}}"


def _ipv6() -> str:
    """Eight hextets (or six and an IPv4 tail), `::` standing for at least one hextet."""
    h = f"{_HEX}{{1,4}}"
    full = f"(?:{h}:){{7}}{h}|(?:{h}:){{6}}{IPV4}"
    compressed = []
    for groups, tail in ((8, ""), (6, IPV4)):
        for left in range(groups):  # hextets before "::"
            before = "" if left == 0 else f"(?:{h}:){{{left - 1}}}{h}" if left > 1 else h
            room = groups - 1 - left  # hextets after "::" (at most)
            if tail:
                after = tail if room == 0 else f"(?:{h}:){{0,{room}}}{tail}"
            else:
                after = "" if room == 0 else f"(?:{h}(?::{h}){{0,{room - 1}}})?"
            compressed.append(f"{before}::{after}")
    return "|".join([full, *compressed])


IPV6 = _ipv6()
UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"


def _label(most: int) -> str:
    """An RFC 1123 label of 1..most characters (letters, digits, inner hyphens), never with a
    "--" in the 3rd and 4th positions: that is reserved for IDNA
    (punycode "xn--" labels), which hostname checkers validate and we do not generate."""
    return (f"[A-Za-z0-9](?:[A-Za-z0-9-]{{0,2}}[A-Za-z0-9])?"
            f"|[A-Za-z0-9][A-Za-z0-9-](?:[A-Za-z0-9][A-Za-z0-9-]|-[A-Za-z0-9])"
            f"[A-Za-z0-9-]{{0,{most - 5}}}[A-Za-z0-9]")


def _hostname(shapes: tuple[tuple[int, int], ...]) -> str:
    """Names of up to `count` labels of up to `length` characters, for each (count, length)."""
    return "|".join(f"(?:{_label(length)})(?:\\.(?:{_label(length)})){{0,{count - 1}}}"
                    for count, length in shapes)


HOSTNAME = _hostname(((4, 62), (16, 14)))  # 4*63-1 = 251 and 16*15-1 = 239 <= 253
_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL = f"(?:{_ATEXT}{{1,64}}|{_ATEXT}{{1,20}}(?:\\.{_ATEXT}{{1,20}}){{1,2}})"
EMAIL = f"{_LOCAL}@(?:{_hostname(((4, 40), (8, 20)))})"  # 4*41-1 = 163, 8*21-1 = 167

# --- URIs (RFC 3986) -------------------------------------------------------------------------
_PCT = f"%{_HEX}{{2}}"
_UNRESERVED_SUB = "A-Za-z0-9._~!$&'()*+,;=-"  # "-" last: more may be put before it
_PCHAR = f"(?:[:@{_UNRESERVED_SUB}]|{_PCT})"
_SEGMENT = f"{_PCHAR}*"
_SEGMENT_NZ = f"{_PCHAR}+"
_SEGMENT_NZ_NC = f"(?:[@{_UNRESERVED_SUB}]|{_PCT})+"
_USERINFO = f"(?:[:{_UNRESERVED_SUB}]|{_PCT})*"
_REG_NAME = f"(?:[{_UNRESERVED_SUB}]|{_PCT})*"  # also covers IPv4 addresses
_HOST = f"(?:\\[(?:{IPV6})\\]|{_REG_NAME})"
_AUTHORITY = f"(?:{_USERINFO}@)?{_HOST}(?::{_D}*)?"
_PATH_ABEMPTY = f"(?:/{_SEGMENT})*"
_PATH_ABSOLUTE = f"/(?:{_SEGMENT_NZ}(?:/{_SEGMENT})*)?"
_QUERY_FRAGMENT = f"(?:\\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
_SCHEME = "[A-Za-z][A-Za-z0-9+.-]*"
URI = (f"{_SCHEME}:(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}"
       f"|{_SEGMENT_NZ}(?:/{_SEGMENT})*)?{_QUERY_FRAGMENT}")
_RELATIVE_REF = (f"(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}"
                 f"|{_SEGMENT_NZ_NC}(?:/{_SEGMENT})*)?{_QUERY_FRAGMENT}")
URI_REFERENCE = f"{URI}|{_RELATIVE_REF}"

# --- JSON pointers (RFC 6901; relative: draft-bhutton-relative-json-pointer-00) --------------
JSON_POINTER = "(?:/(?:[ !#-.0-\\[\\]-}]|~[01])*)*"
# The prefix never has a digit after a "0" ("100" is left out): jsonschema's checker refuses those.
RELATIVE_JSON_POINTER = f"(?:0|[1-9]+0?)(?:#|{JSON_POINTER})"

# --- URI templates (RFC 6570, level 4) -------------------------------------------------------
_VARCHAR = f"(?:[A-Za-z0-9_]|{_PCT})"
_VARSPEC = f"{_VARCHAR}(?:\\.?{_VARCHAR})*(?::[1-9]{_D}{{0,3}}|\\*)?"
URI_TEMPLATE = (f"(?:[!#$&(-;=?-\\[\\]_a-z~]|{_PCT}"
                f"|\\{{[+#./;?&]?{_VARSPEC}(?:,{_VARSPEC})*\\}})*")

# --- regular expressions: ECMA-262 and Python `re` both compile them -------------------------
_RX_CLASS = "\\[\\^?(?:a-z|A-Z|0-9|[A-Za-z0-9_ ])+\\]"
_RX_ATOM = f"(?:[A-Za-z0-9 _,:;!#%&'<>=@~-]|\\.|{_RX_CLASS})"
_RX_NUMBER = "(?:0|[1-9][0-9]?)"  # no leading zeros, at most 99
# {n}, {n,}, {n,m} with n <= m: m of two digits (>= 10), or one digit m >= n (n one digit)
_RX_RANGE = "|".join(f"{n},[{n}-9]" for n in range(10))
_RX_QUANT = f"(?:[*+?]|\\{{(?:{_RX_NUMBER},?|[0-9],[1-9][0-9]|{_RX_RANGE})\\}})"
_RX_FLAT = f"(?:{_RX_ATOM}{_RX_QUANT}?)*"
_RX_GROUP = f"\\((?:\\?:)?{_RX_FLAT}(?:\\|{_RX_FLAT})*\\)"
_RX_BRANCH = f"\\^?(?:(?:{_RX_ATOM}|{_RX_GROUP}){_RX_QUANT}?)*\\$?"
REGEX = f"{_RX_BRANCH}(?:\\|{_RX_BRANCH})*"

FORMATS = {
    "date": DATE, "time": TIME, "date-time": DATE_TIME, "duration": DURATION, "email": EMAIL,
    "hostname": HOSTNAME, "ipv4": IPV4, "ipv6": IPV6, "uuid": UUID, "uri": URI,
    "uri-reference": URI_REFERENCE,
    # The internationalized formats: their ASCII subsets (every URI is an IRI, ...).
    "iri": URI, "iri-reference": URI_REFERENCE, "idn-email": EMAIL, "idn-hostname": HOSTNAME,
    "json-pointer": JSON_POINTER, "relative-json-pointer": RELATIVE_JSON_POINTER,
    "uri-template": URI_TEMPLATE, "regex": REGEX,
    # Draft 3's names of the same checks (jsonschema checks them with the same functions).
    "host-name": HOSTNAME, "ip-address": IPV4,
}


def format_regex(fmt: str, *, pointer: str = "") -> str:
    """The content regex (without quotes) of the strings valid for `fmt` (see module doc)."""
    try:
        return FORMATS[fmt]
    except (KeyError, TypeError):
        known = ", ".join(sorted(FORMATS))
        raise UnsupportedSchemaError(f"format {fmt!r} is not supported (supported: {known})",
                                     "format", pointer) from None
