"""Child process of `test_fleet.py`: masks of warmed targets, as a fleet's engine makes them.

    python -m tests.decoding.hf.fleet_child TARGETS.json TOKENIZER_FOLDER

Loads the tokenizer, then for each target (`decoding.hf.warm.Target` fields) walks its instances'
tokens with `decoding.hf.warm.guide_for`, filling one bitmask row per state
(`decoding.guides.bitmask.fill_bitmasks`), and prints one JSON line: a SHA-256 of every target's
rows, the entries computed here (`walks`) and restored from the cache, the store's hits and misses
of stored entries (one record a target), and the warnings raised.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings


def main(targets_file: str, tokenizer_folder: str) -> None:
    from transformers import AutoTokenizer

    from cache.store import get_store
    from decoding.guides.bitmask import allocate, fill_bitmasks
    from decoding.hf.warm import Target, guide_for

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    with open(targets_file, encoding="utf-8") as f:
        listed = json.load(f)
    digests, walks, restored = {}, 0, 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fields in listed:
            target = Target(fields["name"], fields["kind"], fields["source"],
                            tuple(fields["instances"]))
            guide = guide_for(target, tokenizer)
            rows = [(guide, guide.initial_state)]
            for text in target.texts():
                state = guide.initial_state
                for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
                    state = guide.advance(state, token)
                    rows.append((guide, state))
            out = allocate(len(rows), guide.vocab_size)
            fill_bitmasks(rows, out)
            digests[target.name] = hashlib.sha256(out.tobytes()).hexdigest()
            walks += getattr(guide.index, "walks", 0)
            restored += getattr(guide.index, "restored", 0)
        store = get_store()
    print(json.dumps({"digests": digests, "walks": walks, "restored": restored,
                      "hits": store._hits.get("pattern", 0),
                      "misses": store._misses.get("pattern", 0),
                      "readonly": store.readonly, "warnings": [str(w.message) for w in caught]}))


if __name__ == "__main__":
    main(*sys.argv[1:])
