"""The warm path's cheap keys: a recorded schema is found by its JSON text before the check walk,
which still runs for every document the record does not stand for; the limits are read from the
environment's own table and still follow every change. (About 5 s, imports included.)"""

from __future__ import annotations

import os

import pytest

import cache.store as store_mod
from decoding import limits
from decoding.persist import cached as persist

schema2re = pytest.importorskip("schema2re")
inputs = pytest.importorskip("schema2re.inputs")

SCHEMA = {"type": "object", "properties": {"1": {"enum": ["a", "b"]}}, "required": ["1"]}


@pytest.fixture
def walks(monkeypatch) -> list[object]:
    """The documents `load_schema`'s check walk is run on from now on."""
    seen: list[object] = []
    check = inputs._check_json

    def counted(document, bounds):
        seen.append(document)
        return check(document, bounds)

    monkeypatch.setattr(inputs, "_check_json", counted)
    return seen


def test_a_recorded_schema_is_not_walked_again(tmp_path, walks):
    store = store_mod.get_store(tmp_path)
    first = persist.cached_schema_language(SCHEMA, store)
    persist.flush()  # the record is written in the background
    assert walks == [SCHEMA]  # a miss: checked by the translation, recorded
    again = persist.cached_schema_language(dict(SCHEMA), store)
    assert walks == [SCHEMA] and again.name == first.name and not again.built
    assert store.info()["hits"] == {"schema_language": 1}


@pytest.mark.parametrize("impostor", [
    {"type": "object", "properties": {1: {"enum": ["a", "b"]}}, "required": ["1"]},
    {"type": "object", "properties": {"1": {"enum": ("a", "b")}}, "required": ["1"]},
], ids=["integer key", "tuple"])
def test_a_document_with_the_same_text_but_no_json_spelling_is_refused(tmp_path, walks,
                                                                      impostor):
    store = store_mod.get_store(tmp_path)
    persist.cached_schema_language(SCHEMA, store)
    with pytest.raises(schema2re.SchemaError):
        persist.cached_schema_language(impostor, store)
    assert walks[-1] is impostor


def test_the_record_holds_the_size_and_depth_limits(tmp_path, walks, monkeypatch):
    store = store_mod.get_store(tmp_path)
    persist.cached_schema_language(SCHEMA, store)
    persist.flush()
    monkeypatch.setenv("TYPEDECODE_MAX_SCHEMA_DEPTH", "2")
    with pytest.raises(schema2re.SchemaError, match="deeper than 2 levels"):
        persist.cached_schema_language(SCHEMA, store)
    monkeypatch.delenv("TYPEDECODE_MAX_SCHEMA_DEPTH")
    persist.cached_schema_language(SCHEMA, store)
    assert len(walks) == 2  # the miss, the refusal under the lower limit; then a hit again


def test_schema_text_and_types_go_through_load_schema(tmp_path, walks):
    store = store_mod.get_store(tmp_path)
    text = persist.cached_schema_language('{"type": "integer"}', store)
    persist.flush()
    document = persist.cached_schema_language({"type": "integer"}, store)
    assert text.name == document.name and walks == [{"type": "integer"}]  # the translation's
    with pytest.raises(schema2re.SchemaError):
        persist.cached_schema_language({"type": float("nan")}, store)


def test_schema_keys_differ_for_options_equal_in_python_but_not_in_json(monkeypatch):
    fingerprint, text = persist.schema2re_fingerprint(), '{"type":"string"}'
    spellings = [{"lenient": True}, {"lenient": 1}, {"lenient": 1.0}, {"lenient": -0.0},
                 {"lenient": 0.0}, {"lenient": None}, {"lenient": "1"}, {"lenient": [1]}]
    keys = [persist._schema_key(fingerprint, options, text) for options in spellings * 2]
    assert len(set(keys)) == len(spellings) and keys[:len(spellings)] == keys[len(spellings):]
    before = persist._schema_key(fingerprint, {}, text)  # the head follows the limits
    monkeypatch.setenv("TYPEDECODE_MAX_SCHEMA_DEPTH", "7")
    assert persist._schema_key(fingerprint, {}, text) != before


def test_pattern_keys_hold_a_fixed_size_hash_of_the_pattern():
    long = "x" * 100_000
    assert persist._pattern_digest(long) != persist._pattern_digest(long + "y")
    assert len(persist._pattern_digest(long)) == 64


def test_limits_follow_the_environment_through_its_table(monkeypatch):
    monkeypatch.setenv("TYPEDECODE_MAX_DFA_STATES", "1_234")
    assert limits.current().dfa_states == 1234
    assert limits.environment(("TYPEDECODE_MAX_DFA_STATES", "NOT_SET_HERE")) == \
        (os.environ._data[os.environ.encodekey("TYPEDECODE_MAX_DFA_STATES")], None)
    monkeypatch.setenv("TYPEDECODE_MAX_DFA_STATES", "77")
    assert limits.current().dfa_states == 77
    monkeypatch.delenv("TYPEDECODE_MAX_DFA_STATES")
    assert limits.current().dfa_states == limits.Limits().dfa_states


def test_limits_read_an_environment_without_a_table(monkeypatch):
    monkeypatch.setattr(os, "environ", {"TYPEDECODE_MAX_DFA_STATES": "55"})
    assert limits.environment(("TYPEDECODE_MAX_DFA_STATES",)) == ("55",)
    assert limits.current().dfa_states == 55
