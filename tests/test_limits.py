"""Resource limits (`decoding.limits`): each setting is read from its environment variable, and
each bound, when hit, ends in its typed error quickly; the hostile inputs of issue 15 end in a
typed error or succeed under the default limits."""

from __future__ import annotations

import json
import time

import pytest

import decoding
import schema2re
from cache import Store
from decoding import limits
from decoding.automaton import expr as x
from decoding.automaton.dfa import Automaton
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from decoding.errors import PatternTooComplex, UsageError
from decoding.guides import guide as guide_module
from decoding.tokens.vocabulary import Vocabulary
from decoding.util import LRU
from schema2re import SchemaError, SchemaTooComplex

BLOWUP = "(a|b)*a(a|b){30}"  # a lazy DFA meets a new state at almost every byte


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    """Every printable ASCII byte, plus 'a'/'b' pairs and triples; id 0 is EOS."""
    tokens = [bytes([b]) for b in range(32, 127)]
    tokens += [bytes(p) for p in ((a, b) for a in b"ab" for b in b"ab")]
    tokens += [bytes((a, b, c)) for a in b"ab" for b in b"ab" for c in b"ab"]
    return Vocabulary.from_token_bytes([b"", *tokens], {0}, {0})


def _set(monkeypatch: pytest.MonkeyPatch, **values: int) -> None:
    for name, value in values.items():
        monkeypatch.setenv(limits.variable(name), str(value))


def _walk(guide, text: bytes) -> int:
    """Advance through `text` one byte token at a time, computing each state's mask."""
    state = guide.initial_state
    for b in text:
        guide.allowed_tokens(state)
        state = guide.advance(state, guide.vocabulary.token_bytes.index(bytes([b])))
    return state


def _deep(levels: int) -> dict:
    root: dict = {}
    node = root
    for _ in range(levels):
        node["not"] = {}
        node = node["not"]
    return root


# --- settings ------------------------------------------------------------------------------------

def test_each_limit_is_read_from_its_environment_variable(monkeypatch):
    defaults = limits.current()
    assert defaults == limits.Limits()
    _set(monkeypatch, dfa_states=123, memo_bytes=4567)
    monkeypatch.setenv("TYPEDECODE_MAX_GUIDE_BYTES", "1_000")
    now = limits.current()
    assert (now.dfa_states, now.memo_bytes, now.guide_bytes) == (123, 4567, 1000)
    assert now.schema_bytes == defaults.schema_bytes


@pytest.mark.parametrize("text", ["0", "-5", "lots", "1.5"])
def test_a_bad_setting_is_a_usage_error_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv("TYPEDECODE_MAX_SCHEMA_DEPTH", text)
    with pytest.raises(UsageError, match="TYPEDECODE_MAX_SCHEMA_DEPTH"):
        limits.current()


# --- schema documents ----------------------------------------------------------------------------

def test_schema_bytes_bounds_dicts_and_json_text(monkeypatch):
    _set(monkeypatch, schema_bytes=1000)
    small = {"type": "string", "description": "x" * 500}
    big = {"type": "string", "description": "x" * 1500}
    schema2re.to_expression(small)
    schema2re.to_expression(json.dumps(small))
    for schema in (big, json.dumps(big), json.dumps(big).encode()):
        with pytest.raises(SchemaError, match="TYPEDECODE_MAX_SCHEMA_BYTES"):
            schema2re.to_expression(schema)
    wide = {"enum": list(range(400))}  # many small values add up as well
    with pytest.raises(SchemaError, match="larger than 1,000 bytes") as caught:
        schema2re.to_expression(wide)
    assert caught.value.pointer.startswith("/enum/")


def test_schema_bytes_counts_non_ascii_text_in_utf8(monkeypatch):
    _set(monkeypatch, schema_bytes=1000)
    text = json.dumps({"const": "é" * 400}, ensure_ascii=False)  # 400 characters, 800 bytes
    schema2re.to_expression(text)
    with pytest.raises(SchemaError, match="TYPEDECODE_MAX_SCHEMA_BYTES"):
        schema2re.to_expression(json.dumps({"const": "é" * 600}, ensure_ascii=False))


def test_schema_depth_names_the_pointer(monkeypatch):
    _set(monkeypatch, schema_depth=10)
    schema2re.to_expression(_deep(8))  # an even number of "not": any value
    with pytest.raises(SchemaError, match="deeper than 10 levels") as caught:
        schema2re.to_expression(_deep(10))
    assert caught.value.pointer == "/not" * 10


def test_a_document_nested_100000_deep_is_refused_without_recursion():
    start = time.perf_counter()
    with pytest.raises(SchemaError, match="TYPEDECODE_MAX_SCHEMA_DEPTH"):
        schema2re.to_expression(_deep(100_000))
    with pytest.raises(SchemaError):  # json refuses it before the depth check can
        schema2re.to_expression('{"not":' * 100_000 + "{}" + "}" * 100_000)
    assert time.perf_counter() - start < 5


def test_generate_refuses_a_deep_dict_before_loading_a_model():
    from decoding.hf.constraint import make_constraint

    with pytest.raises(SchemaError, match="TYPEDECODE_MAX_SCHEMA_DEPTH"):
        make_constraint(schema=_deep(5000), cache_dir=False)  # its memo key needs no recursion


# --- patterns and expressions --------------------------------------------------------------------

def test_pattern_chars_is_checked_before_parsing(monkeypatch):
    _set(monkeypatch, pattern_chars=100)
    parse("a" * 100)
    with pytest.raises(PatternTooComplex, match="TYPEDECODE_MAX_PATTERN_CHARS"):
        parse("a" * 101)


def test_expr_nodes_bounds_a_pattern_build(monkeypatch, vocabulary):
    pattern = "|".join(f"k{i:03d}v" for i in range(300))  # hundreds of new nodes
    _set(monkeypatch, expr_nodes=100)
    with pytest.raises(PatternTooComplex, match="TYPEDECODE_MAX_EXPR_NODES"):
        decoding.compile(pattern, vocabulary, cache_dir=False)
    monkeypatch.delenv(limits.variable("expr_nodes"))
    assert decoding.compile(pattern, vocabulary, cache_dir=False).automaton.num_states > 1


def test_expr_nodes_bounds_a_schema_naming_keyword_and_pointer(monkeypatch):
    schema = {"type": "object", "properties": {"tag": {"type": "string", "pattern": "^(" + "|".join(
        f"q{i:03d}z" for i in range(300)) + ")$"}}}
    _set(monkeypatch, expr_nodes=100)
    with pytest.raises(SchemaTooComplex, match="TYPEDECODE_MAX_EXPR_NODES") as caught:
        schema2re.to_expression(schema)
    assert caught.value.pointer == "/properties/tag"
    assert caught.value.keyword == "type"
    assert isinstance(caught.value, schema2re.UnsupportedSchemaError)


def test_explored_derivatives_bound_a_schemas_emptiness_checks(monkeypatch):
    def schema(tag: str) -> dict:  # a fresh tag: no emptiness answer memoized by another test
        return {"type": "object", "properties": {"code": {
            "type": "string", "pattern": "^[a-z]{2,12}[0-9]$", "not": {"pattern": tag},
            "minLength": 4}}}

    _set(monkeypatch, explored_derivatives=5)
    with pytest.raises(SchemaTooComplex, match="TYPEDECODE_MAX_EXPLORED_DERIVATIVES") as caught:
        schema2re.to_expression(schema("zq7"))
    assert caught.value.pointer == "/properties/code"
    monkeypatch.delenv(limits.variable("explored_derivatives"))
    expression = schema2re.to_expression(schema("zq8"))
    assert [t for t in ('{"code":"abc1"}', '{"code":"azq81"}', '{"code":"ab1"}')
            if expression.matches(t)] == ['{"code":"abc1"}']


def _all_not_any(tag: str) -> dict:
    """The hostile shape of the fuzz finds (seeds 11 and 23): complements of alternations of
    complements, intersected; `tag` makes its patterns fresh (no derivative memoized by another
    test)."""
    def none_of(*patterns: str) -> dict:
        return {"not": {"anyOf": [{"pattern": p} for p in patterns]}}

    return {"type": "string", "allOf": [
        {"not": {"anyOf": [none_of("^....$", f"ab{tag}", "b12"), none_of("^....$", "bc1", "c12")]}},
        {"not": {"anyOf": [none_of("^[\\w]*$", "\\d\\d", "[a|b]"),
                           none_of("^[\\w]*$", "\\d\\d", "[b|c]")]}},
        {"pattern": "[aA][12].*[zZ]"}, {"minLength": 10}, {"maxLength": 20}]}


def test_derivative_steps_bound_a_schemas_work_naming_the_limit(monkeypatch):
    _set(monkeypatch, derivative_steps=2_000)
    with pytest.raises(SchemaTooComplex, match="more than 2,000 derivative steps "
                       ".*TYPEDECODE_MAX_DERIVATIVE_STEPS") as caught:
        schema2re.to_expression(_all_not_any("q1"))
    assert caught.value.pointer is not None and caught.value.keyword is not None
    assert isinstance(caught.value, schema2re.UnsupportedSchemaError)


def test_derivative_steps_count_only_nodes_with_intersection_or_complement(monkeypatch):
    # A pattern without `&` and `~` spends no step however long its derivatives take.
    _set(monkeypatch, derivative_steps=1)
    schema = {"type": "string", "pattern": "^(ab|cd|ef){3,9}[0-9]{2}$", "maxLength": 30}
    expression = schema2re.to_expression(schema)
    assert expression.matches('"abcdef12"') and not expression.matches('"abcd12"')
    with x.node_budget(10**9, "the test", steps=3):
        both = x.both(x.literal("ab9z"), x.neg(x.literal("ab")))
        with pytest.raises(PatternTooComplex, match="more than 3 derivative steps"):
            both.matches("ab9z")  # the intersection costs 1 + 2 items: the next derivative is over


def test_each_enum_value_checked_is_a_translation_step(monkeypatch):
    import schema2re.context

    monkeypatch.setattr(schema2re.context, "MAX_STEPS", 150)
    words = [f"w{i}" for i in range(200)]
    assert schema2re.to_expression({"enum": words[:100]}).matches('"w99"')
    with pytest.raises(SchemaTooComplex, match="more than 150 translation steps"):
        schema2re.to_expression({"enum": words})


def test_enum_values_are_still_checked_against_their_siblings():
    schema = {"enum": [1, 2.5, "a", True, 3], "type": "integer", "not": {"const": 3}}
    expression = schema2re.to_expression(schema)
    assert [t for t in ("1", "1.0", "2.5", '"a"', "true", "3", "3.0") if expression.matches(t)] \
        == ["1", "1.0"]


def test_node_budgets_nest_and_end_with_their_block():
    with x.node_budget(10**9):
        with pytest.raises(PatternTooComplex, match="more than 3 expression nodes"), \
                x.node_budget(3, "the test"):
            x.literal("node budget test, unique text 7f3a")
        x.literal("node budget test, unique text 7f3b")  # the outer budget still allows it
    x.literal("node budget test, unique text 7f3c" * 3)  # no budget outside


def test_state_nodes_bounds_one_automaton_row(monkeypatch):
    nested = to_expr(parse("(" * 8 + "a" + "{1,1000})" * 8))  # derivatives grow at every 'a'
    _set(monkeypatch, state_nodes=2000)
    automaton = Automaton(nested)
    start = time.perf_counter()
    with pytest.raises(PatternTooComplex, match="TYPEDECODE_MAX_STATE_NODES"):
        automaton.walk(automaton.initial_state, b"a" * 40)
    assert time.perf_counter() - start < 5


def test_dfa_states_default_comes_from_the_setting(monkeypatch, vocabulary):
    _set(monkeypatch, dfa_states=60)
    guide = decoding.compile(BLOWUP, vocabulary, cache_dir=False)
    assert guide.automaton.max_states == 60
    with pytest.raises(PatternTooComplex, match="more than 60 states"):
        _walk(guide, b"ab" * 40)
    explicit = decoding.compile(BLOWUP, vocabulary, cache_dir=False, max_states=10_000)
    _walk(explicit, b"ab" * 40)


# --- memory of guides and memos ------------------------------------------------------------------

def _weights(guide, text: bytes) -> list[int]:
    """`guide.index.nbytes` before the walk and after each of its masks."""
    sizes = [guide.index.nbytes]
    state = guide.initial_state
    for b in text:
        guide.allowed_tokens(state)
        sizes.append(guide.index.nbytes)
        state = guide.advance(state, guide.vocabulary.token_bytes.index(bytes([b])))
    return sizes


def test_guide_bytes_bounds_one_guides_masks(monkeypatch, vocabulary):
    pattern, text = "abcdefghijklmnopqrstuvwxyz", b"abcdefghijklmnop"
    sizes = _weights(decoding.compile(pattern, vocabulary, cache_dir=False, max_states=1000),
                     text)  # the same entries as below, in an index of its own
    assert sizes[0] > 0 and all(b > a for a, b in zip(sizes, sizes[1:]))
    _set(monkeypatch, guide_bytes=sizes[7])  # room for 7 entries, not 8
    guide = decoding.compile(pattern, vocabulary, cache_dir=False, max_states=1001)
    with pytest.raises(PatternTooComplex, match="TYPEDECODE_MAX_GUIDE_BYTES") as caught:
        _walk(guide, text)
    assert guide.index.nbytes == sizes[7]
    assert "after 7 states" in caught.value.reason


def test_index_bytes_count_each_entry_once(vocabulary):
    guide = decoding.compile("[ab]{0,500}", vocabulary, cache_dir=False)
    state = guide.initial_state
    before = guide.index.nbytes
    entry = guide.index.entry(state)
    grown = guide.index.nbytes - before
    assert grown >= entry.nbytes > 0
    guide.index.entry(state)
    assert guide.index.nbytes - before == grown


def test_memo_bytes_evicts_least_recently_used_indexes(monkeypatch, vocabulary):
    one = _weights(decoding.compile("memo9[ab]+", vocabulary, cache_dir=False), b"memo")[-1]
    _set(monkeypatch, memo_bytes=2 * one + one // 2)  # two walked indexes fit, not three
    guides = []
    for i in range(4):
        g = decoding.compile(f"memo{i}[ab]+", vocabulary, cache_dir=False)
        _walk(g, b"memo")
        guides.append(g)
    assert guide_module._INDEXES.total(guide_module._index_bytes) <= 2 * one + one // 2 + one
    again = decoding.compile("memo3[ab]+", vocabulary, cache_dir=False)
    assert again.index is guides[3].index  # the most recent stays
    first = decoding.compile("memo0[ab]+", vocabulary, cache_dir=False)
    assert first.index is not guides[0].index  # evicted: compiled again


def test_a_generators_guides_are_bounded_by_memo_bytes(monkeypatch, bpe_tokenizer):
    from decoding.hf.constraint import make_constraint
    from tests.tiny_models import tiny_llama

    gen = decoding.Generator((tiny_llama(bpe_tokenizer), bpe_tokenizer), cache_dir=False)
    first = gen.guide(make_constraint(regex="gen0[ab]+"))
    first.allowed_tokens(first.initial_state)  # now it weighs something
    assert gen.guide(make_constraint(regex="gen0[ab]+")) is first
    _set(monkeypatch, memo_bytes=1)
    second = gen.guide(make_constraint(regex="gen1[ab]+"))
    assert gen._guides.total(lambda _: 1) == 1  # only the newest stays
    assert gen.guide(make_constraint(regex="gen1[ab]+")) is second
    assert gen.guide(make_constraint(regex="gen0[ab]+")) is not first


def test_lru_trim_keeps_the_most_recent_entry():
    lru: LRU[str, int] = LRU(10)
    for key, weight in (("a", 5), ("b", 5), ("c", 50)):
        lru.put(key, weight)
    assert lru.trim(int, 20) == [5, 5]
    assert lru.total(int) == 50 and lru.get("c") == 50
    lru.put("d", 1)
    assert lru.trim(int, 100) == []


def test_cache_bytes_is_the_stores_default_size_limit(monkeypatch, tmp_path):
    _set(monkeypatch, cache_bytes=12345)
    assert Store(tmp_path / "c").size_limit == 12345
    assert Store(tmp_path / "c", size_limit=999).size_limit == 999


# --- the hostile inputs of issue 15, default limits -----------------------------------------------

def _ref_bomb(levels: int) -> dict:
    defs = {"d0": {"type": "string", "maxLength": 3}}
    for i in range(1, levels):
        ref = {"$ref": f"#/$defs/d{i - 1}"}
        defs[f"d{i}"] = {"type": "array", "prefixItems": [ref, dict(ref)], "items": False}
    return {"$defs": defs, "$ref": f"#/$defs/d{levels - 1}"}


HOSTILE_SCHEMAS = {
    "ref bomb": _ref_bomb(40),
    "huge minLength": {"type": "string", "minLength": 10**9},
    "huge minItems": {"type": "array", "items": {"type": "integer"}, "minItems": 10**9},
    "huge maxItems, nested": {"type": "array", "maxItems": 10**12, "items": {
        "type": "array", "maxItems": 10**12, "items": {"type": "string", "maxLength": 10**12}}},
    "tiny multipleOf": {"type": "number", "multipleOf": 1e-300},
    "uniqueItems over an enum of 40": {"type": "array", "uniqueItems": True,
                                       "items": {"enum": list(range(40))}},
    "500 oneOf branches": {"oneOf": [{"type": "object", "properties": {f"k{i}": {"type": "integer"}},
                                      "required": [f"k{i}"]} for i in range(500)]},
}


@pytest.mark.parametrize("name", HOSTILE_SCHEMAS)
def test_hostile_schemas_end_quickly(name, vocabulary):
    start = time.perf_counter()
    try:
        expression = schema2re.to_expression(HOSTILE_SCHEMAS[name])
        guide = decoding.compile(expression, vocabulary, cache_dir=False)
        guide.allowed_tokens(guide.initial_state)
    except decoding.TypedecodeError as exc:
        assert isinstance(exc, (schema2re.UnsupportedSchemaError, PatternTooComplex)), exc
    assert time.perf_counter() - start < 5


def test_a_10_mb_enum_is_refused_by_size():
    start = time.perf_counter()
    with pytest.raises(SchemaError, match="TYPEDECODE_MAX_SCHEMA_BYTES"):
        schema2re.to_expression({"enum": [f"value-{i:07d}" for i in range(700_000)]})
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("pattern", [
    "(" * 10_000 + "a" + ")" * 10_000,
    pytest.param("(" * 8 + "a" + "{1,1000})" * 8, marks=pytest.mark.slow),  # ~5 s
    "a" * 300_000], ids=["groups 10,000 deep", "nested quantifiers", "300,000 characters"])
def test_hostile_patterns_end_in_pattern_too_complex(pattern, vocabulary):
    start = time.perf_counter()
    with pytest.raises(PatternTooComplex):
        guide = decoding.compile(pattern, vocabulary, cache_dir=False)
        _walk(guide, b"a" * 40)
    assert time.perf_counter() - start < 30
