"""JSON numbers restricted by range and `multipleOf`, as fragments (leaf builders).

`integer_rx` and `number_rx` return an `Rx`; `integer_regex` and `number_regex` its regex text.
Contract:
- Syntax: only JSON number text, never `-0` from a bounded side. `integer_regex` emits canonical
  integers only (`-?(0|[1-9][0-9]*)`): JSON Schema also counts `1.0` as an integer, but one
  spelling per value is enough to generate, and `"1.0"` would be a float to most parsers.
- Soundness (mandatory): every matched text is accepted by BOTH exact decimal arithmetic (a
  float keyword read as its shortest repr) and the `jsonschema` validator, whose Python
  semantics are: a text with `.` or an exponent is parsed to the nearest double, a text
  without to an exact int; bounds are compared exactly with Python operators; a float
  `multipleOf` m accepts x when `x / m` (a float division) is integral, an int one when
  `x % m == 0`.
- Completeness: `integer_regex` matches every canonical integer that satisfies the keywords
  (`integer_rx` too, but for the unrolled multiples below: those of at most 18 digits).
  `number_regex` matches every canonical integer in range, and every decimal `-?I.F` whose
  value (as a double) is at least the shortest double that satisfies the lower bound (and
  likewise for the upper bound): in practice every in-range decimal of up to 15 significant
  digits. Exponent forms are matched only where a side of zero is entirely in range (there
  the sign alone decides), since rounding an exponent form cannot cross zero.
- `multipleOf` m, int: canonical integers that are multiples of m (for "number" too; exact).
  Float m: the lattice is m's decimal reading (0.1, not the double near it), but the
  validator divides in floats (`0.07 / 0.01` is not integral), so only members where that
  division provably lands on its integer are emitted: integral m -> integer multiples up to
  2**53 in magnitude; other m -> for "integer" its integer multiples (2.5 -> multiples of 5),
  for "number" its dyadic multiples, which parse to exact doubles (0.01 -> 0, 0.25, 0.5, ...;
  trailing zeros allowed), with |x / m| <= 2**53; refused when m's two readings differ by more
  than 2**-54 relatively (e.g. 0.7). A finite range of at most `ENUMERATION_LIMIT` lattice
  points is instead listed member by member, each checked with the validator's arithmetic
  (so 0.99 is matched for 0.01 within [0, 5]).
  Digit constructions: a modulus 2**a * 5**b is decided by the last max(a, b) <= 4 digits (any
  range); a modulus with an odd part r > 1 coprime to 10 needs a remainder automaton, turned
  into a regex by state elimination (small enough for r = 3 and 7 only), and a range covering
  a whole side of zero. Otherwise (another r, another range) the remainder automaton is
  unrolled to `RESIDUE_DIGITS` digits as a shared expression graph, one per prime power of r
  (intersected: the Chinese remainder theorem), and intersected with the range: every member
  of at most 18 digits, no larger one (a sound subset; a range of at most `ENUMERATION_LIMIT`
  members is listed whole instead; a range whose members all have more digits is refused with
  `UnsupportedSchemaError`, not `EmptyRangeError`; no regex text, so
  `integer_regex`/`number_regex` raise where `integer_rx`/`number_rx` return it). Moduli with
  more than `SUFFIX_DIGITS_LIMIT` factors 2 or 5, or odd prime powers summing over 303, raise
  `UnsupportedSchemaError(keyword="multipleOf")`.
- A range with no satisfying value raises `EmptyRangeError` (an `UnsupportedSchemaError`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from schema2re.errors import EmptyRangeError, SchemaError, UnsupportedSchemaError
from schema2re.rx import (
    EMPTY,
    Rx,
    Trie,
    alt,
    both,
    cat,
    escape_in_class,
    lit,
    raw,
    rep,
    string_trie,
)

UNSIGNED_NUMBER = r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
NUMBER = "-?" + UNSIGNED_NUMBER

ENUMERATION_LIMIT = 2000  # members of a finite range listed one by one (as a trie)
SUFFIX_DIGITS_LIMIT = 4  # 2**a * 5**b divisibility is decided by the last max(a, b) digits
RESIDUE_REGEX_LIMIT = 40_000  # characters of a remainder-automaton regex (r=3: 130, r=7: 30k)
RESIDUE_MODULUS_LIMIT = 30  # remainder automata tried (r=9, 11, 13 already exceed the limit)
MAX_FRACTION_DIGITS = 6  # decimal places of a dyadic multipleOf lattice (0.015625 = 2**-6)
RESIDUE_DIGITS = 18  # digits of the integers an unrolled remainder automaton reaches
RESIDUE_NODES_LIMIT = 60_000  # expression nodes of unrolled remainder automata for one modulus

_DIGIT = raw("[0-9]")
_DIGITS = rep(_DIGIT, 0, None)
_UNSIGNED = raw(UNSIGNED_NUMBER)
_NUMBER = raw(NUMBER)
_FLOAT_EXACT = 2**53  # integers up to this magnitude are exact doubles
_HUGE = Fraction(10) ** 308  # below the largest double: no overflow to inf


class _Inexpressible(Exception):
    """Internal: the multiples cannot be written exactly as a regex of reasonable size."""


@dataclass(frozen=True)
class _Bound:
    """One side of the range: the schema's Python value, exclusive or not, lower or upper."""

    value: int | float
    strict: bool
    lower: bool

    @property
    def decimal(self) -> Fraction:
        """The decimal reading: the shortest repr (what the schema text most likely said)."""
        if isinstance(self.value, int):
            return Fraction(self.value)
        return Fraction(Decimal(repr(self.value)))

    @property
    def exact(self) -> Fraction:
        """The tighter of the binary reading (Python's comparisons) and the decimal one: the
        bound for values that are exact in both, such as integers."""
        binary = Fraction(self.value)
        return max(binary, self.decimal) if self.lower else min(binary, self.decimal)

    def admits(self, x: Fraction, decimal_only: bool = False) -> bool:
        """x is beyond the bound (in its decimal reading only, or in both)."""
        bound = self.decimal if decimal_only else self.exact
        if self.lower:
            return x > bound if self.strict else x >= bound
        return x < bound if self.strict else x <= bound


Keyword = int | float | None  # a numeric keyword value (None: absent)


def integer_regex(minimum: Keyword = None, maximum: Keyword = None, *,
                  exclusive_minimum: Keyword = None, exclusive_maximum: Keyword = None,
                  multiple_of: Keyword = None, pointer: str = "") -> str:
    """Regex text of `integer_rx`; `UnsupportedSchemaError` (keyword `multipleOf`) where the
    multiples have no regex text (see module doc)."""
    return _text(integer_rx(minimum, maximum, exclusive_minimum=exclusive_minimum,
                            exclusive_maximum=exclusive_maximum, multiple_of=multiple_of,
                            pointer=pointer), pointer)


def number_regex(minimum: Keyword = None, maximum: Keyword = None, *,
                 exclusive_minimum: Keyword = None, exclusive_maximum: Keyword = None,
                 multiple_of: Keyword = None, pointer: str = "") -> str:
    """Regex text of `number_rx` (as `integer_regex`)."""
    return _text(number_rx(minimum, maximum, exclusive_minimum=exclusive_minimum,
                           exclusive_maximum=exclusive_maximum, multiple_of=multiple_of,
                           pointer=pointer), pointer)


def integer_rx(minimum: Keyword = None, maximum: Keyword = None, *,
               exclusive_minimum: Keyword = None, exclusive_maximum: Keyword = None,
               multiple_of: Keyword = None, pointer: str = "") -> Rx:
    """The canonical JSON integers satisfying the keywords (exact: see module doc)."""
    lower, upper = _bounds(minimum, maximum, exclusive_minimum, exclusive_maximum, pointer)
    if multiple_of is not None:
        return _finish(_multiples(lower, upper, _check_multiple(multiple_of, pointer), True,
                                  pointer), lower, upper, pointer)
    lo, hi = _integer_bounds(lower, upper)
    return _finish(_signed(lo, hi, 1), lower, upper, pointer)


def number_rx(minimum: Keyword = None, maximum: Keyword = None, *,
              exclusive_minimum: Keyword = None, exclusive_maximum: Keyword = None,
              multiple_of: Keyword = None, pointer: str = "") -> Rx:
    """JSON number texts satisfying the keywords (sound; see module doc)."""
    lower, upper = _bounds(minimum, maximum, exclusive_minimum, exclusive_maximum, pointer)
    if multiple_of is not None:
        return _finish(_multiples(lower, upper, _check_multiple(multiple_of, pointer), False,
                                  pointer), lower, upper, pointer)
    if lower is None and upper is None:
        return _NUMBER
    return _finish(_numbers(lower, upper), lower, upper, pointer)


# --- keywords ---------------------------------------------------------------------------

def _check_value(value, keyword: str, pointer: str) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{keyword} must be a number, not {value!r}", keyword, pointer)
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(f"{keyword} must be finite, not {value!r}", keyword, pointer)
    return value


def _check_multiple(value, pointer: str) -> int | float:
    checked = _check_value(value, "multipleOf", pointer)
    assert checked is not None
    if checked <= 0:
        raise SchemaError(f"multipleOf must be > 0, not {value!r}", "multipleOf", pointer)
    return checked


def _bounds(minimum, maximum, exclusive_minimum, exclusive_maximum,
            pointer: str) -> tuple[_Bound | None, _Bound | None]:
    """The tightest lower and upper bounds (an exclusive bound wins a tie)."""
    pairs = ((minimum, False, "minimum"), (exclusive_minimum, True, "exclusiveMinimum"))
    lows = [_Bound(v, s, True) for x, s, k in pairs
            if (v := _check_value(x, k, pointer)) is not None]
    pairs = ((maximum, False, "maximum"), (exclusive_maximum, True, "exclusiveMaximum"))
    highs = [_Bound(v, s, False) for x, s, k in pairs
             if (v := _check_value(x, k, pointer)) is not None]
    lower = max(lows, key=lambda b: (b.exact, b.strict), default=None)
    upper = min(highs, key=lambda b: (b.exact, not b.strict), default=None)
    return lower, upper


def _finish(result: Rx | None, lower: _Bound | None, upper: _Bound | None, pointer: str) -> Rx:
    if result is None:
        keyword = ("minimum" if lower is not None else "maximum" if upper is not None
                   else "multipleOf")
        raise EmptyRangeError(
            f"no value satisfies the numeric bounds ({_describe(lower, upper)})", keyword, pointer)
    return result


def _text(result: Rx, pointer: str) -> str:
    """The regex text of a leaf; only members of an unrolled remainder automaton have none."""
    try:
        return result.text
    except UnsupportedSchemaError as exc:
        raise UnsupportedSchemaError(f"these multiples have no regex text: {exc.reason}",
                                     "multipleOf", pointer) from None


def _describe(lower: _Bound | None, upper: _Bound | None) -> str:
    parts = []
    if lower is not None:
        parts.append(f"{'>' if lower.strict else '>='} {lower.value!r}")
    if upper is not None:
        parts.append(f"{'<' if upper.strict else '<='} {upper.value!r}")
    return ", ".join(parts) or "with multipleOf"


def _integer_bounds(lower: _Bound | None, upper: _Bound | None) -> tuple[int | None, int | None]:
    """The inclusive integer range [lo, hi] (None: unbounded) of integers within the bounds."""
    lo = hi = None
    if lower is not None:
        lo = math.floor(lower.exact) + 1 if lower.strict else math.ceil(lower.exact)
    if upper is not None:
        hi = math.ceil(upper.exact) - 1 if upper.strict else math.floor(upper.exact)
    return lo, hi


# --- plain numbers (no multipleOf) --------------------------------------------------------

def _numbers(lower: _Bound | None, upper: _Bound | None) -> Rx | None:
    """Integer forms (exact), decimal forms (float-safe bounds), exponents on whole sides."""
    lo, hi = _integer_bounds(lower, upper)
    low_dec, low_ok = _float_safe(lower, up=True)
    high_dec, high_ok = _float_safe(upper, up=False)
    zero_ok = _admits(lower, upper, 0)

    if upper is None and zero_ok:
        positive = _UNSIGNED
    else:
        fractions = None
        if low_ok and high_ok and (high_dec is None or high_dec >= 0):
            fractions = _decimals(max(low_dec, Decimal(0)) if low_dec is not None else Decimal(0),
                                  False, high_dec)
        positive = alt([_naturals(max(lo or 0, 0), hi, 1, 0), fractions])

    if lower is None and zero_ok:
        negative = _UNSIGNED
    else:
        fractions = None
        if low_ok and high_ok and (low_dec is None or low_dec < 0):
            start = -high_dec if high_dec is not None and high_dec < 0 else Decimal(0)
            fractions = _decimals(start, start == 0, -low_dec if low_dec is not None else None)
        magnitudes = None
        if lo is None or lo < 0:
            magnitudes = _naturals(max(1, -hi) if hi is not None else 1,
                                   -lo if lo is not None else None, 1, 0)
        negative = alt([magnitudes, fractions])
    return alt([positive, cat(lit("-"), negative)])


def _admits(lower: _Bound | None, upper: _Bound | None, value: int) -> bool:
    return all(b is None or b.admits(Fraction(value)) for b in (lower, upper))


def _float_safe(bound: _Bound | None, up: bool) -> tuple[Decimal | None, bool]:
    """A decimal D such that every decimal d beyond D (d >= D for a lower bound) satisfies
    `bound` both exactly and after rounding to a double: the shortest repr of the first
    double x whose repr satisfies the bound exactly and which satisfies it in Python.
    Rounding to nearest is monotonic and D rounds to x, hence the guarantee.
    Returns (None, True) without a bound, (None, False) when no finite double qualifies."""
    if bound is None:
        return None, True
    value = bound.value
    toward = math.inf if up else -math.inf
    try:
        x = float(value)
    except OverflowError:
        x = -toward
    while not math.isinf(x) or x != toward:
        if not math.isinf(x) and _satisfies(x, bound) \
                and bound.admits(Fraction(Decimal(repr(x))), decimal_only=True):
            return Decimal(repr(x)), True
        x = math.nextafter(x, toward)
    return None, False


def _satisfies(x: float | int, bound: _Bound) -> bool:
    """Python's own comparison, as the validator makes it."""
    if bound.lower:
        return x > bound.value if bound.strict else x >= bound.value
    return x < bound.value if bound.strict else x <= bound.value


def _decimals(lo: Decimal, lo_strict: bool, hi: Decimal | None) -> Rx | None:
    """Texts `I.F` (F non-empty) of magnitudes in [lo, hi] (lo excluded when `lo_strict`)."""
    if hi is not None and (lo > hi or (lo == hi and lo_strict)):
        return None
    li, lf = _split(lo)
    dot = lit(".")
    if hi is None:
        return alt([cat(lit(str(li)), dot, _fraction_at_least(lf, lo_strict, False)),
                    cat(_naturals(li + 1, None, 1, 0), dot, rep(_DIGIT, 1, None))])
    hi_int, hf = _split(hi)
    if li == hi_int:
        return cat(lit(str(li)), dot, _fraction_between(lf, lo_strict, hf))
    return alt([cat(lit(str(li)), dot, _fraction_at_least(lf, lo_strict, False)),
                cat(_naturals(li + 1, hi_int - 1, 1, 0), dot, rep(_DIGIT, 1, None)),
                cat(lit(str(hi_int)), dot, _fraction_at_most(hf, False))])


def _split(x: Decimal) -> tuple[int, str]:
    """Integer part and fraction digits (no trailing zeros) of a non-negative decimal."""
    text = format(abs(x), "f")
    whole, _, frac = text.partition(".")
    return int(whole), frac.rstrip("0")


def _runs(digits: str) -> Iterable[tuple[int, int, int]]:
    """Maximal runs (start, end, digit) of equal digits."""
    start = 0
    for i in range(1, len(digits) + 1):
        if i == len(digits) or digits[i] != digits[start]:
            yield start, i, int(digits[start])
            start = i


def _fraction_at_least(x: str, strict: bool, empty_ok: bool) -> Rx | None:
    """Fraction digit strings f with 0.f >= 0.x (> when strict); x has no trailing zeros."""
    some_nonzero = raw("0*[1-9][0-9]*")
    if not x:
        return some_nonzero if strict else rep(_DIGIT, 0 if empty_ok else 1, None)
    branches = [cat(_numeral(x[:s]), rep(lit(str(c)), 0, e - s - 1), _digit_class(c + 1, 9),
                    _DIGITS) for s, e, c in _runs(x) if c < 9]
    branches.append(cat(_numeral(x), some_nonzero if strict else _DIGITS))
    return alt(branches)


def _fraction_at_most(x: str, empty_ok: bool) -> Rx | None:
    """Fraction digit strings f with 0.f <= 0.x; x has no trailing zeros."""
    if not x:
        return rep(lit("0"), 0 if empty_ok else 1, None)
    branches: list[Rx | None] = []
    for s, e, c in _runs(x):
        if c > 0:
            branches.append(cat(_numeral(x[:s]), rep(lit(str(c)), 0, e - s - 1),
                                _digit_class(0, c - 1), _DIGITS))
        least = 1 if s == 0 and not empty_ok else 0  # f = x[:k] for s <= k < e (a prefix)
        if least <= e - s - 1:
            branches.append(cat(_numeral(x[:s]), rep(lit(str(c)), least, e - s - 1)))
    branches.append(cat(_numeral(x), rep(lit("0"), 0, None)))
    return alt(branches)


def _fraction_between(a: str, strict: bool, b: str) -> Rx | None:
    """Non-empty fraction digit strings f with 0.a <= 0.f <= 0.b (0.a < 0.f when strict)."""
    width = max(len(a), len(b))
    pa, pb = a.ljust(width, "0"), b.ljust(width, "0")
    k = next((i for i in range(width) if pa[i] != pb[i]), None)
    if k is None:
        return None if strict else cat(_numeral(a), rep(lit("0"), 0 if a else 1, None))
    da, db = int(pa[k]), int(pb[k])
    if da > db:
        return None
    branches = [cat(lit(str(da)), _fraction_at_least(a[k + 1:], strict, True)),
                cat(_digit_class(da + 1, db - 1), _DIGITS),
                cat(lit(str(db)), _fraction_at_most(b[k + 1:], True))]
    result = cat(_numeral(pa[:k]), alt(branches))
    shortest = max(len(a), 1)
    if not strict and shortest <= k:  # f may stop inside the common prefix, once past a
        result = alt([result, cat(_numeral(pa[:shortest]), rep(lit("0"), 0, k - shortest))])
    return result


# --- multiples -----------------------------------------------------------------------------

def _multiples(lower: _Bound | None, upper: _Bound | None, step: int | float, integer: bool,
               pointer: str) -> Rx | None:
    """Values satisfying the bounds that are multiples of `step` (see the module doc)."""
    exact_step = Fraction(Decimal(repr(step))) if isinstance(step, float) else Fraction(step)
    # Members of the exact lattice (integers for "integer" or an integral step).
    lattice = Fraction(exact_step.numerator) if integer else exact_step
    integers_only = integer or exact_step.denominator == 1
    if not integers_only:  # listing checks each float division: more members than the lattice
        listed = _enumerated(lower, upper, lattice, step, exact_step)
        if listed is not None:
            return listed[0]
    try:
        return _structured(lower, upper, step, exact_step, integers_only)
    except _Inexpressible as exc:
        listed = _enumerated(lower, upper, lattice, step, exact_step)
        if listed is not None:
            return listed[0]
        raise UnsupportedSchemaError(f"multipleOf {step!r} cannot be expressed exactly here: {exc}",
                                     "multipleOf", pointer) from None


def _enumerated(lower: _Bound | None, upper: _Bound | None, lattice: Fraction,
                step: int | float, exact_step: Fraction) -> tuple[Rx | None] | None:
    """(the trie of every member of a small finite range, each checked like the validator,)
    or None when the range is unbounded or too large."""
    if lower is None or upper is None:
        return None
    first = math.ceil(lower.exact / lattice)
    last = math.floor(upper.exact / lattice)
    if last - first + 1 > ENUMERATION_LIMIT:
        return None
    texts = [_decimal_text(j * lattice) for j in range(first, last + 1)]
    accepted = [t for t in texts if _validator_accepts(t, lower, upper, step, exact_step)]
    return (literal_trie(accepted),)


def _structured(lower: _Bound | None, upper: _Bound | None, step: int | float,
                exact_step: Fraction, integers_only: bool) -> Rx | None:
    """Multiples through digit constructions, on the lattice where they are provably exact."""
    float_step = isinstance(step, float)
    if integers_only:
        grid, places = Fraction(exact_step.numerator), 0
    else:  # dyadic multiples: the values that parse to exact doubles
        twos = _power_of_two_in(exact_step.denominator)
        grid, places = exact_step.numerator / Fraction(2**twos), twos
        if places > MAX_FRACTION_DIGITS:
            raise _Inexpressible(f"its exact multiples need {places} decimal places")
    lo = lower.exact if lower is not None else None
    hi = upper.exact if upper is not None else None
    if float_step:
        cap = _float_cap(step, exact_step, grid, places)
        lo = -cap if lo is None else max(lo, -cap)
        hi = cap if hi is None else min(hi, cap)
    # snap to members: inclusive bounds on the lattice `grid`
    first = None if lo is None else _snap(lo, grid, lower is not None and lower.strict
                                          and lo == lower.exact, up=True)
    last = None if hi is None else _snap(hi, grid, upper is not None and upper.strict
                                         and hi == upper.exact, up=False)
    if first is not None and last is not None and first > last:
        return None
    scale = 10**places
    big = grid * scale  # the lattice in units of 10**-places: an integer
    assert big.denominator == 1
    positive = None
    if last is None or last >= 0:
        positive = _lattice_magnitudes(max(first, 0) if first is not None else Fraction(0), last,
                                       int(big), places, not integers_only)
    negative = None
    if first is None or first < 0:
        negative = _lattice_magnitudes(max(-last, grid) if last is not None else grid,
                                       -first if first is not None else None, int(big), places,
                                       not integers_only)
    return alt([positive, cat(lit("-"), negative)])


def _snap(x: Fraction, grid: Fraction, strict: bool, up: bool) -> Fraction:
    """The nearest lattice member beyond x (strictly beyond when `strict`)."""
    j = x / grid
    if up:
        n = math.floor(j) + 1 if strict else math.ceil(j)
    else:
        n = math.ceil(j) - 1 if strict else math.floor(j)
    return n * grid


def _float_cap(step: float, exact_step: Fraction, grid: Fraction, places: int) -> Fraction:
    """Largest magnitude for which the validator's `x / step` is provably integral for every
    exact multiple x on `grid`: x must be an exact double and the quotient Q = x / exact_step
    must round to itself. With step = exact_step * (1 + e), x / step = Q * (1 - e + ...), and
    |e| <= 2**-54 keeps that within half a unit in the last place of Q for |Q| <= 2**53."""
    binary = Fraction(step)
    if binary != exact_step and abs(exact_step / binary - 1) > Fraction(1, 2**54):
        raise _Inexpressible("the float division of the validator is not exact for it")
    if binary == exact_step and exact_step.numerator == 1:
        return _HUGE  # a power of two: x / step is an exact scaling, integral for every double
    return min(Fraction(_FLOAT_EXACT, 2**places), _FLOAT_EXACT * exact_step)


def _power_of_two_in(n: int) -> int:
    return (n & -n).bit_length() - 1


def _lattice_magnitudes(lo: Fraction, hi: Fraction | None, big: int, places: int,
                        decimal_text: bool) -> Rx | None:
    """Texts of the magnitudes v in [lo, hi] (members of the lattice big / 10**places):
    I followed by its fraction part: v = I + s / 10**places with I*10**places + s = 0 mod big."""
    if hi is not None and lo > hi:
        return None
    scale = 10**places
    common = math.gcd(scale, big)
    modulus = big // common
    inverse = pow(scale // common, -1, modulus) if modulus > 1 else 0
    groups: dict[str, tuple[Rx, list[Rx]]] = {}
    for s in range(0, scale, common):
        part = Fraction(s, scale)
        whole_lo = max(math.ceil(lo - part), 0)
        whole_hi = None if hi is None else math.floor(hi - part)
        residue = (-(s // common) * inverse) % modulus if modulus > 1 else 0
        wholes = _naturals(whole_lo, whole_hi, modulus, residue)
        if wholes is None:
            continue
        if s == 0:
            tail = rep(raw(r"\.0+"), 0, 1) if decimal_text else EMPTY
        else:
            tail = cat(lit("." + str(s).zfill(places).rstrip("0")), rep(lit("0"), 0, None))
        groups.setdefault(wholes.expr, (wholes, []))[1].append(tail)
    return alt(cat(wholes, alt(tails)) for wholes, tails in groups.values())


def _validator_accepts(text: str, lower: _Bound | None, upper: _Bound | None,
                       step: int | float, exact_step: Fraction) -> bool:
    """The member text passes both exact decimal arithmetic and jsonschema's float checks."""
    exact = Fraction(Decimal(text))
    if (exact / exact_step).denominator != 1:
        return False
    value = json.loads(text)
    for bound in (lower, upper):
        if bound is not None and not (bound.admits(exact, decimal_only=True)
                                      and _satisfies(value, bound)):
            return False
    if isinstance(step, float):
        try:
            quotient = value / step
        except OverflowError:
            return False
        try:
            return int(quotient) == quotient
        except OverflowError:
            return (Fraction(value) / Fraction(step)).denominator == 1
    return value % step == 0


def _decimal_text(value: Fraction) -> str:
    """The shortest exact decimal text of a value with a terminating expansion."""
    if value.denominator == 1:
        return str(value.numerator)
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    scaled = abs(value * 10**places).numerator
    digits = str(scaled).rjust(places + 1, "0")
    text = f"{digits[:-places]}.{digits[-places:]}".rstrip("0")
    return ("-" if value < 0 else "") + text


# --- natural numbers: ranges and residues --------------------------------------------------

@dataclass(frozen=True)
class _Block:
    """Digit strings: `prefix`, then one digit in `first` (if any), then `least`..`most`
    free digits (`most` None: unbounded)."""

    prefix: str
    first: tuple[int, int] | None
    least: int
    most: int | None

    def rx(self) -> Rx | None:
        head = _digit_class(*self.first) if self.first else EMPTY
        return cat(_numeral(self.prefix), head, rep(_DIGIT, self.least, self.most))


def _signed(lo: int | None, hi: int | None, modulus: int) -> Rx | None:
    """Canonical integer texts in [lo, hi] (None: unbounded) that are multiples of `modulus`."""
    if lo is not None and hi is not None and lo > hi:
        return None
    positive = None
    if hi is None or hi >= 0:
        positive = _naturals(max(lo, 0) if lo is not None else 0, hi, modulus, 0)
    negative = None
    if lo is None or lo < 0:
        negative = _naturals(max(-hi, 1) if hi is not None else 1, -lo if lo is not None else None,
                             modulus, 0)
    return alt([positive, cat(lit("-"), negative)])


def _naturals(lo: int, hi: int | None, modulus: int, residue: int) -> Rx | None:
    """Canonical texts of the integers n >= 0 in [lo, hi] with n = residue (mod modulus)."""
    lo = max(lo, 0)
    first = lo + (residue - lo) % modulus
    if hi is not None and first > hi:
        return None
    last = None if hi is None else hi - (hi - residue) % modulus
    if modulus == 1:
        return alt(b.rx() for b in _range_blocks(first, last))
    if last is not None and (last - first) // modulus < ENUMERATION_LIMIT:
        return literal_trie(str(n) for n in range(first, last + 1, modulus))
    odd, digits = _coprime_part(modulus)
    if odd == 1 and digits <= SUFFIX_DIGITS_LIMIT:
        return alt(rx for block in _range_blocks(first, last)
                   for rx in _suffix_filtered(block, modulus, residue % modulus, digits))
    smallest = residue % modulus or modulus  # the least positive member
    if last is None and first <= smallest and digits <= SUFFIX_DIGITS_LIMIT \
            and odd <= RESIDUE_MODULUS_LIMIT:
        try:
            return _all_members(modulus, residue % modulus, odd, digits, include_zero=first == 0)
        except _Inexpressible:
            pass
    return _unrolled_members(first, last, modulus, residue)


def _unrolled_members(first: int, last: int | None, modulus: int, residue: int) -> Rx | None:
    """The integers n in [first, last] with n = residue (mod modulus) of at most
    `RESIDUE_DIGITS` digits: modulus = s * r with s | 10**t decided by the last t digits of the
    range's blocks, intersected with the remainder automaton mod r unrolled (`_residue_dag`)."""
    odd, digits = _coprime_part(modulus)
    if digits > SUFFIX_DIGITS_LIMIT:
        raise _Inexpressible(f"the multiples of {modulus} need {digits} suffix digits")
    s = modulus // odd
    blocks = _range_blocks(first, last)
    in_range = alt(b.rx() for b in blocks) if s == 1 else \
        alt(rx for b in blocks for rx in _suffix_filtered(b, s, residue % s, digits))
    members = both([in_range, _residue_dag(odd, residue % odd)]) if odd > 1 else in_range
    if members is None and (last is None or last >= 10**RESIDUE_DIGITS):
        raise _Inexpressible(f"its multiples in this range have more than {RESIDUE_DIGITS} digits")
    return members


def _residue_dag(odd: int, target: int) -> Rx | None:
    """Canonical naturals of at most `RESIDUE_DIGITS` digits that are = target (mod odd), odd
    coprime to 10: one unrolled remainder automaton per prime power of odd, intersected
    (the Chinese remainder theorem: 11 + 3 states for 33, not 33)."""
    powers = _prime_powers(odd)
    if sum(powers) * RESIDUE_DIGITS * 11 > RESIDUE_NODES_LIMIT:
        raise _Inexpressible(f"remainder automata mod {odd} unrolled to {RESIDUE_DIGITS} "
                             "digits are too large")
    return both([_unrolled(q, target % q) for q in powers])


def _prime_powers(n: int) -> list[int]:
    """The prime powers whose product is n (n >= 1)."""
    powers, p = [], 2
    while n > 1:
        if p * p > n:
            powers.append(n)
            break
        q = 1
        while n % p == 0:
            n //= p
            q *= p
        if q > 1:
            powers.append(q)
        p += 1
    return powers


@lru_cache(maxsize=64)
def _unrolled(odd: int, target: int) -> Rx:
    """Canonical naturals of at most `RESIDUE_DIGITS` digits that are = target (mod odd): the
    remainder automaton unrolled as a shared graph (level k, remainder q: the digit strings of
    at most k digits that lead from q to target), `odd * RESIDUE_DIGITS` alternations of at
    most 11 branches, whose derivative by a digit is again one of them."""
    steps = [_by_target(q, odd, range(10)) for q in range(odd)]
    level: list[Rx | None] = [EMPTY if q == target else None for q in range(odd)]
    for _ in range(RESIDUE_DIGITS - 1):
        level = [alt([EMPTY if q == target else None]
                     + [cat(_class_of(ds), level[nxt]) for nxt, ds in steps[q]])
                 for q in range(odd)]
    heads = [cat(_class_of(ds), level[nxt]) for nxt, ds in _by_target(0, odd, range(1, 10))]
    result = alt(heads + [lit("0") if target == 0 else None])
    assert result is not None
    return result


def _by_target(state: int, odd: int, digits: Iterable[int]) -> list[tuple[int, list[str]]]:
    """The remainder automaton's moves from `state`: (next remainder, the digits going there)."""
    moves: dict[int, list[str]] = {}
    for d in digits:
        moves.setdefault((state * 10 + d) % odd, []).append(str(d))
    return list(moves.items())


def _coprime_part(modulus: int) -> tuple[int, int]:
    """(r, t) with modulus = 2**a * 5**b * r, r coprime to 10, t = max(a, b)."""
    a = b = 0
    while modulus % 2 == 0:
        modulus //= 2
        a += 1
    while modulus % 5 == 0:
        modulus //= 5
        b += 1
    return modulus, max(a, b)


def _range_blocks(lo: int, hi: int | None) -> list[_Block]:
    """Blocks covering exactly the canonical texts of the integers in [lo, hi], 0 <= lo."""
    blocks: list[_Block] = []
    width_lo = len(str(lo))
    width_hi = len(str(hi)) if hi is not None else width_lo
    for width in range(width_lo, width_hi + 1):
        a = lo if width == width_lo else 10 ** (width - 1)
        b = hi if hi is not None and width == width_hi else 10**width - 1
        blocks.extend(_same_width_blocks(str(a), str(b)))
    if hi is None:
        blocks.append(_Block("", (1, 9), width_lo, None))
    return _merge_full_widths(blocks)


def _merge_full_widths(blocks: list[_Block]) -> list[_Block]:
    """Join consecutive `[1-9][0-9]{m}` blocks into one `[1-9][0-9]{m,n}`."""
    merged: list[_Block] = []
    for block in blocks:
        prev = merged[-1] if merged else None
        if (prev is not None and block.prefix == "" and prev.prefix == "" and block.first == (1, 9)
                and prev.first == (1, 9) and prev.most is not None
                and block.least == prev.most + 1):
            merged[-1] = _Block("", (1, 9), prev.least, block.most)
        else:
            merged.append(block)
    return merged


def _same_width_blocks(a: str, b: str) -> list[_Block]:
    """Blocks covering the digit strings s of the width of a and b with a <= s <= b."""
    if a == b:
        return [_Block(a, None, 0, 0)]
    k = next(i for i in range(len(a)) if a[i] != b[i])
    prefix, rest = a[:k], len(a) - k - 1
    low, high = int(a[k]), int(b[k])
    blocks = []
    tail_a, tail_b = a[k + 1:], b[k + 1:]
    mid_lo, mid_hi = low + 1, high - 1
    if set(tail_a) <= {"0"}:
        mid_lo = low
    else:
        blocks.extend(_at_least(prefix + a[k], tail_a))
    if set(tail_b) <= {"9"}:
        mid_hi = high
    else:
        blocks.extend(_at_most(prefix + b[k], tail_b))
    if mid_lo <= mid_hi:
        blocks.append(_Block(prefix, (mid_lo, mid_hi), rest, rest))
    return blocks


def _at_least(head: str, x: str) -> list[_Block]:
    """head + (strings of x's width that are >= x); x is not all zeros."""
    last = max(i for i, c in enumerate(x) if c != "0")
    blocks = [_Block(head + x[:i], (int(x[i]) + 1, 9), len(x) - i - 1, len(x) - i - 1)
              for i in range(last) if x[i] != "9"]
    blocks.append(_Block(head + x[:last], (int(x[last]), 9), len(x) - last - 1, len(x) - last - 1))
    return blocks


def _at_most(head: str, x: str) -> list[_Block]:
    """head + (strings of x's width that are <= x); x is not all nines."""
    last = max(i for i, c in enumerate(x) if c != "9")
    blocks = [_Block(head + x[:i], (0, int(x[i]) - 1), len(x) - i - 1, len(x) - i - 1)
              for i in range(last) if x[i] != "0"]
    blocks.append(_Block(head + x[:last], (0, int(x[last])), len(x) - last - 1, len(x) - last - 1))
    return blocks


def _suffix_filtered(block: _Block, modulus: int, residue: int, digits: int) -> list[Rx | None]:
    """The texts of `block` whose value is = residue mod `modulus`, a divisor of 10**digits:
    that depends only on the last `digits` digits."""
    out: list[Rx | None] = []
    heads = [block.prefix + str(d) for d in range(block.first[0], block.first[1] + 1)] \
        if block.first else [block.prefix]
    top = digits - 1 if block.most is None else min(block.most, digits - 1)
    for free in range(block.least, top + 1):  # short tails: enumerate them
        by_tails: dict[tuple[str, ...], list[str]] = {}
        for head in heads:
            tails = tuple(t for t in (str(v).zfill(free) if free else "" for v in range(10**free))
                          if int((head + t)[-digits:]) % modulus == residue)
            by_tails.setdefault(tails, []).append(head[-1] if block.first else "")
        for tails, lasts in by_tails.items():
            if tails:
                mid = _class_of(lasts) if block.first else EMPTY
                out.append(cat(lit(block.prefix), mid, literal_trie(tails)))
    if block.most is None or block.most >= digits:
        suffixes = literal_trie(str(v).zfill(digits) for v in range(residue, 10**digits, modulus))
        head = _digit_class(*block.first) if block.first else EMPTY
        most = None if block.most is None else block.most - digits
        free = rep(_DIGIT, max(block.least, digits) - digits, most)
        out.append(cat(lit(block.prefix), head, free, suffixes))
    return out


def _all_members(modulus: int, residue: int, odd: int, digits: int,
                 include_zero: bool) -> Rx | None:
    """Every positive n = residue (mod modulus) (and 0 when asked and residue is 0), modulus =
    s * odd with s | 10**digits: n = A * 10**digits + B with B of `digits` digits, where B
    fixes n mod s and A's remainder mod `odd` (a remainder automaton) does the rest."""
    small = [str(n) for n in range(1, 10**digits) if n % modulus == residue]
    if include_zero and residue == 0:
        small.append("0")
    s = modulus // odd
    shift = pow(10**digits, -1, odd)
    by_need: dict[int, list[str]] = {}
    for b in range(residue % s, 10**digits, s):
        need = ((residue - b) * shift) % odd
        by_need.setdefault(need, []).append(str(b).zfill(digits) if digits else "")
    long = [cat(_remainder_rx(odd, need), literal_trie(tails)) for need, tails in by_need.items()]
    if sum(len(rx.text) for rx in long) > RESIDUE_REGEX_LIMIT:  # type: ignore[union-attr]
        raise _Inexpressible(f"one remainder automaton mod {odd} per suffix class is too large")
    return alt([literal_trie(small) if small else None, *long])


@lru_cache(maxsize=64)
def _remainder_rx(odd: int, target: int) -> Rx:
    """Canonical positive integers ([1-9][0-9]*) that are = target (mod odd), by state
    elimination on the remainder automaton; raises when the regex would be too large."""
    edges: dict[tuple, Rx] = {}

    def add(i, j, rx: Rx | None) -> None:
        if rx is not None:
            edges[(i, j)] = alt([edges.get((i, j)), rx])  # type: ignore[list-item]

    for state in range(odd):
        for nxt in range(odd):
            add(state, nxt, _class_of([str(d) for d in range(10) if (state * 10 + d) % odd == nxt]))
    for nxt in range(odd):
        add("start", nxt, _class_of([str(d) for d in range(1, 10) if d % odd == nxt]))
    add(target, "end", EMPTY)
    remaining = set(range(odd))
    while remaining:
        def fan(q):
            ins = sum(1 for (i, j) in edges if j == q and i != q)
            outs = sum(1 for (i, j) in edges if i == q and j != q)
            return ins * outs
        q = min(remaining, key=lambda s: (fan(s), s))
        remaining.discard(q)
        loop = rep(edges.pop((q, q), None), 0, None)
        ins = [(i, edges.pop((i, j))) for (i, j) in list(edges) if j == q]
        outs = [(j, edges.pop((i, j))) for (i, j) in list(edges) if i == q]
        for i, into in ins:
            for j, out in outs:
                add(i, j, cat(into, loop, out))
        if any(len(rx.text) > RESIDUE_REGEX_LIMIT for rx in edges.values()):
            raise _Inexpressible(f"the remainder automaton mod {odd} makes too large a regex")
    return edges[("start", "end")]


# --- small helpers -------------------------------------------------------------------------

def _numeral(digits: str) -> Rx:
    """A literal digit string, long runs of one digit written as `d{n}`."""
    parts = [rep(lit(str(c)), e - s, e - s) if e - s >= 4 else lit(digits[s:e])
             for s, e, c in _runs(digits)] if digits else []
    result = cat(*parts)
    assert result is not None
    return result


def _digit_class(lo: int, hi: int) -> Rx | None:
    if lo > hi:
        return None
    if lo == hi:
        return lit(str(lo))
    if (lo, hi) == (0, 9):
        return _DIGIT
    return raw(f"[{lo}-{hi}]" if hi > lo + 1 else f"[{lo}{hi}]")


def _class_of(chars: Iterable[str]) -> Rx | None:
    """One character among `chars`, as a compact class; None when empty."""
    codes = sorted({ord(c) for c in chars})
    if not codes:
        return None
    if len(codes) == 1:
        return lit(chr(codes[0]))
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    body = "".join(escape_in_class(chr(a)) + ("" if a == b else "-" if b > a + 1 else "")
                   + ("" if a == b else escape_in_class(chr(b))) for a, b in runs)
    return raw(f"[{body}]")


def literal_trie(texts: Iterable[str]) -> Rx | None:
    """The alternation of the literal `texts` (None if there are none), factored as a trie
    whose sibling characters with equal sub-tries share one class."""
    root = string_trie(texts)
    return _trie_rx(root) if root else None


def _trie_rx(node: Trie) -> Rx:
    by_rest: dict[str, tuple[Rx, list[str]]] = {}
    for ch, child in node.items():
        if ch is not None:
            rest = _trie_rx(child)
            by_rest.setdefault(rest.expr, (rest, []))[1].append(ch)
    branches: list[Rx | None] = [cat(_class_of(chars), rest) for rest, chars in by_rest.values()]
    if None in node:
        branches.append(EMPTY)
    result = alt(branches)
    assert result is not None
    return result
