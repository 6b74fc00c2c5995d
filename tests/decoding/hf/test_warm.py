"""`decoding.hf.warm`: what warming gives entries to, and that a fresh process's guides find them
under the keys `compile` and `generate` use. A few seconds (the BPE test tokenizer)."""

from __future__ import annotations

import decoding
from decoding.guides.guide import vocabulary_of
from decoding.hf.warm import Target, guide_for, warm

PERSON = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}},
          "required": ["name"]}


def test_instances_then_breadth_first_up_to_the_bound(bpe_tokenizer, tmp_path):
    targets = [Target("person", "schema", PERSON, ({"name": "Ann"}, {"name": 3})),
               Target("digits", "regex", "[0-9]{1,12}", ()),
               Target("broken", "regex", "[0-9", ())]
    seen = []
    results = warm(targets, bpe_tokenizer, max_states=5, cache_dir=tmp_path,
                   progress=seen.append)
    assert seen == results
    person, digits, broken = results
    assert (person.instances, person.rejected, person.error) == (2, 1, None)
    walked = len(bpe_tokenizer('{"name":"Ann"}', add_special_tokens=False)["input_ids"]) + 1
    assert person.states >= min(walked, 5)
    assert digits.states == 5 and digits.error is None
    assert broken.states == 0 and broken.error.startswith("PatternSyntaxError")


def test_compile_and_guide_for_share_the_warmed_masks(bpe_tokenizer, tmp_path):
    warm([Target("person", "schema", PERSON, ({"name": "Bob"},))], bpe_tokenizer, max_states=0,
         cache_dir=tmp_path)
    vocabulary = vocabulary_of(bpe_tokenizer, cache_dir=tmp_path)
    by_compile = decoding.compile(PERSON, vocabulary, cache_dir=tmp_path)
    by_warm = guide_for(Target("person", "schema", PERSON), vocabulary, cache_dir=tmp_path)
    assert by_compile.pattern == by_warm.pattern
