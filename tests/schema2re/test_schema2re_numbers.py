"""schema2re.numbers: integer and number regexes against jsonschema and exact arithmetic.

Soundness is checked in both readings the builders promise: the `jsonschema` validator (Python
floats) and exact decimals (each float bound read as its shortest repr). Completeness is checked
where the contract promises it: every canonical integer in range, every in-range decimal of at
most 15 significant digits.
"""

from __future__ import annotations

import functools
import json
import math
import random
from decimal import Decimal
from fractions import Fraction

import pytest
import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from schema2re.errors import SchemaError, UnsupportedSchemaError
from schema2re import to_expression
from schema2re.numbers import (
    RESIDUE_DIGITS,
    EmptyRangeError,
    integer_regex,
    integer_rx,
    number_regex,
    number_rx,
)

SPECIAL_BOUNDS = [0, 0.0, -0.0, 1, -1, 0.5, -0.5, 0.1, 1e-300, 5e-324, -5e-324, 2**53 + 1,
                  1e22, 1e23, -1e23, 10**30 + 7, 1.7976931348623157e308, 99999999999.99]
BOUND = st.one_of(
    st.none(),
    st.integers(-1000, 1000),
    st.integers(-10**25, 10**25),
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
    st.decimals(-1000, 1000, places=3).map(float),
    st.sampled_from(SPECIAL_BOUNDS),
)
KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
ARGS = {"minimum": "minimum", "maximum": "maximum", "exclusiveMinimum": "exclusive_minimum",
        "exclusiveMaximum": "exclusive_maximum", "multipleOf": "multiple_of"}
FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kwargs(schema: dict) -> dict:
    return {ARGS[k]: v for k, v in schema.items() if k in ARGS}


def _decimal_reading(value) -> Fraction:
    return Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)


def _exactly_valid(text: str, schema: dict) -> bool:
    """Exact decimal arithmetic, each float keyword read as its shortest repr."""
    x = Fraction(Decimal(text))
    checks = {"minimum": lambda b: x >= b, "maximum": lambda b: x <= b,
              "exclusiveMinimum": lambda b: x > b, "exclusiveMaximum": lambda b: x < b,
              "multipleOf": lambda b: (x / b).denominator == 1}
    return all(checks[k](_decimal_reading(v)) for k, v in schema.items() if k in checks)


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_text))


def _valid(text: str, schema: dict) -> bool:
    """Both readings accept the JSON text."""
    return (_validator(json.dumps(schema)).is_valid(json.loads(text))
            and _exactly_valid(text, schema))


def _matches(pattern: str, text: str) -> bool:
    return regex.fullmatch(pattern, text) is not None


@st.composite
def schemas(draw, with_type: str):
    schema = {"type": with_type}
    for key in KEYS:
        value = draw(BOUND)
        if value is not None:
            schema[key] = value
    return schema


def _near(schema: dict) -> list[int]:
    """Integers around each bound."""
    out = []
    for key in KEYS:
        if key in schema:
            centre = math.floor(Fraction(schema[key]))
            out.extend(range(centre - 2, centre + 3))
    return out


# --- integers ---------------------------------------------------------------------------

@FAST
@given(schemas("integer"), st.lists(st.integers(-10**26, 10**26), max_size=20))
def test_integer_regex_matches_exactly_the_integers_in_range(schema, extra):
    try:
        pattern = integer_regex(**_kwargs(schema))
    except EmptyRangeError:
        pattern = None
    for n in _near(schema) + extra + [0, 1, -1]:
        text = json.dumps(n)
        expected = _valid(text, schema)
        if pattern is None:
            assert not expected, f"{schema} said empty but {n} is valid"
        else:
            assert _matches(pattern, text) == expected, (schema, n, pattern)


@pytest.mark.parametrize("schema", [{}, {"minimum": -5, "maximum": 5}, {"minimum": 0}])
@pytest.mark.parametrize("text", ["-0", "01", "-01", "+1", "1.0", "1e2", " 1", "1 ", "", "-", "00"])
def test_integer_regex_rejects_non_canonical_texts(schema, text):
    assert not _matches(integer_regex(**_kwargs(schema)), text)


def test_integer_regex_empty_ranges_raise():
    with pytest.raises(EmptyRangeError) as info:
        integer_regex(minimum=0.2, maximum=0.8, pointer="/properties/n")
    assert info.value.pointer == "/properties/n"
    assert isinstance(info.value, UnsupportedSchemaError)
    with pytest.raises(EmptyRangeError):
        integer_regex(exclusive_minimum=3, exclusive_maximum=4)
    with pytest.raises(EmptyRangeError):
        integer_regex(minimum=1, maximum=9, multiple_of=10)


@pytest.mark.parametrize("bad", [{"minimum": "3"}, {"maximum": True}, {"minimum": math.nan},
                                 {"multiple_of": 0}, {"multiple_of": -2}])
def test_bad_keyword_values_raise_schema_error(bad):
    with pytest.raises(SchemaError):
        integer_regex(**bad)
    with pytest.raises(SchemaError):
        number_regex(**bad)


# --- integer multiples ----------------------------------------------------------------------

EXPRESSIBLE_STEPS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 16, 20, 25, 50, 100, 125, 1000, 2.0, 2.5, 0.5]


@pytest.mark.parametrize("step", EXPRESSIBLE_STEPS)
@pytest.mark.parametrize("bounds", [{}, {"minimum": 0}, {"exclusiveMinimum": 0},
                                    {"maximum": 0}, {"minimum": 17, "maximum": 10**7},
                                    {"minimum": -123456, "exclusiveMaximum": 999}])
def test_integer_multiples_are_exact(step, bounds):
    schema = {"type": "integer", "multipleOf": step, **bounds}
    try:
        pattern = integer_regex(**_kwargs(schema))
    except UnsupportedSchemaError:
        # only a remainder automaton over the whole range is refused: 3 | step and a bound
        # that does not coincide with zero
        assert step % 3 == 0 and bounds and set(bounds) != {"minimum"}, (step, bounds)
        return
    numbers = list(range(-300, 301)) + [10**7, 10**7 - 12, 10**12, -10**12, 123456, -123456]
    for n in numbers:
        text = json.dumps(n)
        assert _matches(pattern, text) == _valid(text, schema), (schema, n)


@FAST
@given(st.sampled_from([3, 7, 9, 11, 13, 33, 77, 3.0]), st.integers(-500, 500),
       st.one_of(st.integers(0, 300), st.integers(1000, 1500)))
def test_integer_multiples_finite_ranges_are_enumerated(step, low, width):
    schema = {"type": "integer", "multipleOf": step, "minimum": low, "maximum": low + width}
    try:
        pattern = integer_regex(**_kwargs(schema))
    except EmptyRangeError:
        assert not any(n % step == 0 for n in range(low, low + width + 1))
        return
    numbers = list(range(low - 20, low + 60)) + list(range(low + width - 60, low + width + 20))
    for n in numbers + random.Random(low).sample(range(low, low + width + 1), min(width, 100)):
        assert _matches(pattern, json.dumps(n)) == _valid(json.dumps(n), schema), (schema, n)


@pytest.mark.parametrize("step", [3, 7, 70])
def test_unbounded_multiples_of_3_and_7_use_a_remainder_automaton(step):
    pattern = integer_regex(multiple_of=step)
    compiled = regex.compile(pattern)
    for n in list(range(-2000, 2000)) + [10**40 * step + step, 10**40 * step + 1]:
        assert (compiled.fullmatch(str(n)) is not None) == (n % step == 0), n
    positive = regex.compile(integer_regex(multiple_of=step, exclusive_minimum=0))
    assert positive.fullmatch(str(step)) and not positive.fullmatch("0")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([11, 13, 14, 33, 77, 91, 143, 2 * 11 * 25, 3 * 121]),
       st.one_of(st.none(), st.integers(-10**20, 10**20)),
       st.one_of(st.none(), st.integers(0, 10**20)),
       st.lists(st.integers(-10**19, 10**19), max_size=20), st.sampled_from(["integer", "number"]))
@example(11, 1_627_079_900_412_442_181, 22000, [], "integer")  # listed whole, past the cap
@example(11, -1_627_079_900_412_450_814, 22000, [], "integer")  # all of it below -10**18
@example(11, 1_627_079_900_412_450_812, None, [], "integer")  # unbounded, from past the cap
def test_unrolled_multiples_are_exact_up_to_the_digit_cap(step, low, width, extra, kind):
    """Moduli the digit constructions cannot write: every multiple in range of at most
    RESIDUE_DIGITS digits matches, and nothing that is not a valid instance does (a range of
    few members is listed whole, larger members included; no regex text: `integer_regex`
    raises)."""
    schema = {"type": kind, "multipleOf": step}
    if low is not None:
        schema["minimum"] = low
        if width is not None:
            schema["maximum"] = low + width
    cap = 10**RESIDUE_DIGITS
    try:
        rx = (integer_rx if kind == "integer" else number_rx)(**_kwargs(schema))
    except UnsupportedSchemaError:  # refused only where no multiple in range is under the cap
        assert low is not None
        first = max(low, -cap + 1)
        first += -first % step
        assert first >= cap or (width is not None and first > low + width)
        return
    base = low if low is not None else -cap
    near = [base + i for i in range(-30, 30)] + [step * k for k in range(-30, 30)]
    big = [step * (cap // step), step * (cap // step + 1)]
    for n in near + extra + big + [v * step for v in extra]:
        valid = _valid(str(n), schema)
        if abs(n) < cap:
            assert rx.expr.matches(str(n)) == valid, (schema, n)
        else:
            assert valid or not rx.expr.matches(str(n)), (schema, n)
    for text in ("1.5", "-0", "0.0" if kind == "integer" else "00", "1e3"):
        assert not rx.expr.matches(text)


@pytest.mark.parametrize("step,other", [(11, 13), (7, 11), (12, 77), (1, 11), (13, 10), (33, 11)])
@pytest.mark.parametrize("kind", ["integer", "number"])
def test_not_multiple_of_is_the_complement_within_the_multiples(step, other, kind):
    """`not {"multipleOf": m}` beside a `multipleOf` (through `leafsets`, exact on the
    integer universe), checked against jsonschema on integers and decimals."""
    schema = {"type": kind, "multipleOf": step, "not": {"multipleOf": other}, "minimum": -10**9}
    if step % other == 0:
        with pytest.raises(UnsupportedSchemaError):
            to_expression(schema)  # no value left
        return
    e = to_expression(schema)
    validator = Draft202012Validator(schema)
    values = [step * k for k in range(-60, 60)] + [step * other * k + d for k in (-3, 7, 10**9)
                                                   for d in (0, step)]
    for text in [str(v) for v in values] + ["2.5", "-7.25", "0.1"]:
        data = json.loads(text)
        if e.matches(text):
            assert validator.is_valid(data), (schema, text)
        elif isinstance(data, int) and abs(data) < 10**RESIDUE_DIGITS:
            assert not validator.is_valid(data), (schema, text)
    assert e.matches(str(step * (other + 1)))  # = step (mod other): not a multiple


@pytest.mark.parametrize("step,bounds", [(11, {}), (14, {}), (11, {"minimum": 100}), (0.7, {}),
                                         (0.123456789, {}), (1e-05, {"minimum": 0})])
def test_inexpressible_multiples_raise_with_keyword(step, bounds):
    with pytest.raises(UnsupportedSchemaError) as info:
        integer_regex(multiple_of=step, pointer="/x", **_kwargs(bounds)) if step != 1e-05 \
            else number_regex(multiple_of=step, pointer="/x", **_kwargs(bounds))
    assert info.value.keyword == "multipleOf" and info.value.pointer == "/x"


# --- numbers --------------------------------------------------------------------------------

@st.composite
def number_texts(draw):
    """JSON number texts of every shape: integers, decimals, exponents, near-bound values."""
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(st.one_of(st.just("0"), st.integers(1, 10**draw(st.integers(1, 25))).map(str)))
    frac = draw(st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=20)))
    exponent = st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]),
                         st.integers(0, 400))
    exp = draw(st.one_of(st.just(""), exponent.map(lambda t: f"{t[0]}{t[1]}{t[2]}")))
    return sign + whole + ("." + frac if frac else "") + exp


def _short(text: str) -> bool:
    """No exponent, at most 15 significant digits, not a negative zero."""
    if "e" in text.lower() or (text.startswith("-") and Decimal(text) == 0):
        return False
    digits = text.lstrip("-").replace(".", "").lstrip("0")
    return len(digits.rstrip("0") if "." in text else digits) <= 15 or "." not in text


@FAST
@given(schemas("number"), st.lists(number_texts(), max_size=25), st.lists(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), max_size=10))
def test_number_regex_is_sound_and_complete_on_short_decimals(schema, texts, floats):
    try:
        pattern = number_regex(**_kwargs(schema))
    except EmptyRangeError:
        pattern = None
    candidates = texts + [json.dumps(f) for f in floats]
    candidates += [json.dumps(v) for v in schema.values() if not isinstance(v, str)]
    for key in KEYS:  # decimals hugging each bound
        if key in schema:
            b = Decimal(repr(schema[key]))
            for delta in ("0", "0.001", "-0.001", "1e-15", "-1e-15", "0.5", "-0.5"):
                candidates.append(_plain(b + Decimal(delta)))
    for text in candidates:
        valid = _valid(text, schema)
        if pattern is None:
            assert not (valid and _short(text)), (schema, text)
            continue
        matched = _matches(pattern, text)
        if matched:
            assert valid, f"false accept: {text} for {schema}"
        elif valid and _short(text):
            raise AssertionError(f"in-range {text} not matched for {schema}: {pattern[:200]}")


def _plain(x: Decimal) -> str:
    text = format(x, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def test_number_regex_unbounded_is_json_number_syntax():
    pattern = number_regex()
    for good in ["0", "-0", "1.5", "-0.0e+5", "1E400", "123456789012345678901234567890"]:
        assert _matches(pattern, good)
    for bad in ["01", "+1", "1.", ".5", "1e", "--1", "NaN", "Infinity", "0x10", "1_000"]:
        assert not _matches(pattern, bad)


def test_exclusive_zero_excludes_every_spelling_of_zero():
    pattern = number_regex(exclusive_minimum=0)
    for good in ["0.0001", "1", "0.5", "1e-5" if False else "7"]:
        assert _matches(pattern, good)
    for bad in ["0", "0.0", "0.000", "-0", "-0.0", "-1", "0." + "0" * 400 + "1"]:
        assert not _matches(pattern, bad)


def test_exponent_forms_only_where_a_whole_side_is_valid():
    assert _matches(number_regex(minimum=0), "1e300")
    assert _matches(number_regex(exclusive_minimum=-1), "1e-5")
    assert not _matches(number_regex(minimum=0, maximum=10), "1e1")
    assert _matches(number_regex(maximum=0), "-2.5E+10")
    assert not _matches(number_regex(exclusive_maximum=0), "-0e5")


# --- number multiples ---------------------------------------------------------------------

FLOAT_STEPS = [0.01, 0.1, 0.5, 0.25, 2.5, 1.5, 0.0001, 0.001, 0.05, 6.75, 1.0, 4, 11]


@FAST
@given(st.sampled_from(FLOAT_STEPS),
       st.sampled_from([{}, {"minimum": 0}, {"minimum": 0, "maximum": 99999999999.99},
                        {"minimum": -3, "maximum": 12.5}, {"exclusiveMinimum": 0, "maximum": 1},
                        {"minimum": 2}, {"minimum": 0, "maximum": 100}]),
       st.lists(st.integers(-10**6, 10**6), min_size=5, max_size=30),
       st.lists(number_texts(), max_size=10))
def test_number_multiples_never_accept_an_invalid_value(step, bounds, ks, texts):
    schema = {"type": "number", "multipleOf": step, **bounds}
    try:
        pattern = number_regex(**_kwargs(schema))
    except UnsupportedSchemaError as exc:
        assert exc.keyword in ("multipleOf", "minimum", "maximum")
        return
    exact_step = _decimal_reading(step)
    candidates = texts + [_plain(Decimal(k * exact_step.numerator) / exact_step.denominator)
                          for k in ks]
    candidates += [c + ".0" for c in candidates if "." not in c and "e" not in c.lower()]
    for text in candidates:
        if _matches(pattern, text):
            assert _valid(text, schema), f"false accept {text} for {schema}"


@pytest.mark.parametrize("step,members", [
    (0.01, ["0", "1", "10.25", "-3.5", "12345.75", "7.50", "100.0"]),
    (0.5, ["0.5", "-1.5", "123456789.5", "2.50"]),
    (2.5, ["0", "2.5", "5", "-7.5", "1002.5"]),
    (0.0001, ["0.0625", "3.9375", "-1"]),
])
def test_dyadic_multiples_of_decimal_steps_are_matched(step, members):
    pattern = number_regex(multiple_of=step)
    for text in members:
        assert _valid(text, {"multipleOf": step})
        assert _matches(pattern, text), (step, text)


def test_small_ranges_enumerate_every_float_checked_multiple():
    schema = {"type": "number", "multipleOf": 0.01, "minimum": 0, "maximum": 5}
    pattern = number_regex(**_kwargs(schema))
    for hundredths in range(-10, 520):
        text = _plain(Decimal(hundredths) / 100)
        assert _matches(pattern, text) == _valid(text, schema), text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([0.25, 0.5, 0.75, 1.5, 2.5, 6.25, 3, 4, 10]), min_size=2, max_size=3,
                unique=True), st.sampled_from(["integer", "number"]))
def test_several_exact_float_multiples_merge_soundly(steps, kind):
    """multipleOf values that are exact doubles merge into their least common multiple:
    checked against jsonschema's float division near 0 and near 2**53, where a rounded
    dividend would make x / m non-integral."""
    schema = {"type": kind, "allOf": [{"multipleOf": m} for m in steps]}
    e = to_expression(schema)
    validator = Draft202012Validator(schema)
    merged = Fraction(math.lcm(*(Fraction(m).numerator for m in steps)),
                      math.gcd(*(Fraction(m).denominator for m in steps)))
    texts = [_decimal_text_of(merged * k) for k in range(-20, 40)]
    texts += [str(2**53 + d) for d in range(-50, 50)] + [str(10**20), "1.125", "7.5"]
    matched = [t for t in texts if e.matches(t)]
    assert all(validator.is_valid(json.loads(t)) for t in matched), schema
    assert _decimal_text_of(merged * 3 if kind == "number" else Fraction(merged.numerator * 3)) in matched


def _decimal_text_of(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(Decimal(value.numerator) / value.denominator)
