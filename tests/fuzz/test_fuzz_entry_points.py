"""Fuzzing the three entry points that take untrusted text: every input ends in a result or a
`decoding.errors.TypedecodeError` (never another exception), within the hypothesis deadline.

- regex: random patterns of the supported syntax (`tests.strategies.patterns`), and pieces of
  valid and broken syntax joined or mutated into seeds (`benchmarks.fuzz_inputs`), as text or
  compiled with random flags, through `syntax.parse`, `hir.to_expr` and `decoding.compile`
  (both engines);
- schema: random JSON values and mutations of dev-set schemas (wrong-typed keyword values,
  references to random places, other dialects) through `to_expression`, `to_regex` and
  `decoding.compile`;
- guide: `advance`, `allowed_tokens`, `allowed_token_ids` and the state methods on random
  token ids (negative, huge, numpy, tensors, EOS, special, floats, text, None) and states.

Examples are derandomized (the same inputs every run, so CI is deterministic); the longer,
seed-walking search is `python -m benchmarks.fuzz`. The whole file runs in well under 30 s.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import fuzz_inputs as fi
from decoding.errors import TypedecodeError
from decoding.guides.guide import vocabulary_of
from tests.strategies import patterns

FUZZ = settings(max_examples=80, deadline=timedelta(seconds=20), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SEED_SCHEMAS = fi.load_seed_schemas(every=25)
SEED_PATTERNS = fi.seed_patterns(SEED_SCHEMAS)


@pytest.fixture(scope="module")
def vocab(bpe_tokenizer):
    return vocabulary_of(bpe_tokenizer, cache_dir=False)


def _typed_or_ok(run, *args) -> None:
    """Run one input; a `TypedecodeError` is an answer, anything else fails the test."""
    try:
        run(*args)
    except TypedecodeError:
        pass


@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_regex_pieces_and_mutated_patterns(vocab, rng: random.Random):
    _typed_or_ok(fi.run_regex, fi.random_regex_case(rng, SEED_PATTERNS), vocab)


@settings(FUZZ, max_examples=40)
@given(pattern=patterns(), engine=st.sampled_from(["automaton", "automaton", "partial"]))
def test_supported_syntax_patterns(vocab, pattern: str, engine: str):
    _typed_or_ok(fi.run_regex, fi.RegexCase(pattern, engine=engine), vocab)


@pytest.mark.skipif(not SEED_SCHEMAS, reason="shared data missing")
@FUZZ
@given(rng=st.randoms(use_true_random=False), compile_too=st.booleans())
def test_mutated_dev_set_schemas(vocab, rng: random.Random, compile_too: bool):
    schema = fi.mutate_schema(rng, rng.choice(SEED_SCHEMAS))
    fi.run_schema(schema, vocab, compile_too)


@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_random_json_values_as_schemas(vocab, rng: random.Random):
    fi.run_schema(fi.random_json(rng), vocab, compile_too=True)


@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_guides_on_random_token_ids_and_states(vocab, rng: random.Random):
    fi.run_guide(fi.random_guide_case(rng), vocab)
