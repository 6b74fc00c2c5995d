"""The incremental JSON parser behind `stream(..., partial=True)` (`decoding.hf.partial_json`).

Pure Python, no model: the whole file runs in a few seconds.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decoding.errors import GenerationError
from decoding.hf.partial_json import NOTHING, PartialJSON
from tests.json_values import JSON, grows


def values_of_prefixes(text: str, step: int = 1) -> list:
    parser, values = PartialJSON(), []
    for i in range(0, len(text), step):
        parser.feed(text[i:i + step], final=i + step >= len(text))
        values.append(parser.value())
    return values


@settings(max_examples=300, deadline=None)
@given(JSON, st.booleans(), st.sampled_from([None, 2]), st.integers(1, 5))
def test_every_prefix_grows_and_the_whole_text_gives_the_value(value, ascii_only, indent, step):
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    values = values_of_prefixes(text, step)
    assert values[-1] == value
    for old, new in zip(values, values[1:]):
        assert grows(old, new), (text, old, new)


def test_what_a_prefix_shows():
    parser = PartialJSON()
    shown = []
    for c in '{"name": "Al", "age": 42, "tags": ["x", tr':
        parser.feed(c)
        if parser.changed:
            shown.append(parser.value())
    assert shown == [
        {}, {"name": ""}, {"name": "A"}, {"name": "Al"},
        {"name": "Al", "age": 42},  # at the ',' after it: "4" could have been 42
        {"name": "Al", "age": 42, "tags": []},
        {"name": "Al", "age": 42, "tags": [""]},
        {"name": "Al", "age": 42, "tags": ["x"]},
    ]  # the key being written, the incomplete literal: nothing shown


def test_escapes_are_held_back_until_complete():
    parser = PartialJSON()
    parser.feed('"a\\u00')
    assert parser.value() == "a"
    parser.feed('e9\\ud83d')
    assert parser.value() == "aé"  # waits for the low half of the pair
    parser.feed('\\ude00"', final=True)
    assert parser.value() == "aé😀"


def test_a_top_level_number_needs_the_end():
    parser = PartialJSON()
    parser.feed("12")
    assert parser.value() is NOTHING
    parser.feed("3", final=True)
    assert parser.value() == 123


@pytest.mark.parametrize("text", ['{"a" 1}', "[1,]", "{,", "tru e", '"\\x"', "1 2"])
def test_text_that_no_document_continues_raises(text):
    with pytest.raises(GenerationError, match="not a prefix of a JSON text"):
        PartialJSON().feed(text)


def test_a_document_that_ends_early_raises():
    with pytest.raises(GenerationError, match="ended before"):
        PartialJSON().feed('{"a": [1', final=True)


def test_parsing_is_linear():
    """Fed 4 characters at a time, a 40x larger document takes about 40x longer (best of 3
    runs each; x4 slack for a shared machine), not 1600x as re-parsing every prefix would."""
    def seconds(n: int) -> float:
        text = json.dumps([{"id": i, "name": f"item {i}", "ok": True} for i in range(n)])
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            parser = PartialJSON()
            for i in range(0, len(text), 4):
                parser.feed(text[i:i + 4])
            best = min(best, time.perf_counter() - start)
        return best

    small, large = seconds(100), seconds(4000)
    assert large < 40 * 4 * small + 0.05, (small, large)
