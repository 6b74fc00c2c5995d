"""vLLM's grammar semantics on typedecode guides, without vLLM: all-or-nothing acceptance, stop
tokens only in accepting states, exact rollback and validation, masks in vLLM's bitmask layout."""

from __future__ import annotations

import numpy as np
import pytest

import decoding
from decoding.errors import UsageError
from decoding.guides.bitmask import allocate, words_per_row
from decoding.tokens.vocabulary import Vocabulary
from decoding.vllm.cursor import GuideCursor, OutputFollower, fill_rows

TOKENS = [b"", b"", *(bytes([c]) for c in b"0123456789-ab"), b"12", b"-a", b"ab"]
EOS, PAD = 0, 1
ID = {t: i for i, t in enumerate(TOKENS) if t} | {b"</s>": EOS}
WIDTH = 70  # the model's logits are wider than the vocabulary (ids 18..69 never allowed)


@pytest.fixture(scope="module")
def guide():
    vocabulary = Vocabulary.from_token_bytes(TOKENS, special_ids=[EOS, PAD], eos_token_ids=[EOS])
    return decoding.compile("[0-9]{2}(-ab)?", vocabulary, vocab_size=WIDTH, cache_dir=False)


def ids(*pieces: bytes) -> list[int]:
    return [ID[p] for p in pieces]


def allowed(cursor: GuideCursor) -> set[int]:
    out = allocate(3, WIDTH)
    out[:] = -1
    cursor.fill_bitmask(out, 1)
    bits = np.unpackbits(out[1].view(np.uint8), bitorder="little")
    assert (out[0] == -1).all() and (out[2] == -1).all()  # only its row is written
    return set(np.flatnonzero(bits).tolist())


def test_accept_is_all_or_nothing(guide):
    cursor = GuideCursor(guide)
    assert cursor.accept_tokens(ids(b"1"))
    state = cursor.state
    assert not cursor.accept_tokens(ids(b"2", b"a"))  # "12a": the second token is forbidden
    assert cursor.state == state and not cursor.is_terminated()
    assert cursor.accept_tokens(ids(b"2", b"-a", b"b"))
    assert guide.is_accepting(cursor.state)
    assert not cursor.accept_tokens([WIDTH - 1]) and cursor.validate_tokens([WIDTH - 1]) == []


def test_stop_tokens_only_where_accepting(guide):
    cursor = GuideCursor(guide, stop_ids=[PAD])
    assert not cursor.accept_tokens([EOS]) and not cursor.accept_tokens([PAD])
    assert EOS not in allowed(cursor) and PAD not in allowed(cursor)
    cursor.accept_tokens(ids(b"12"))
    assert {EOS, PAD} <= allowed(cursor)
    assert cursor.accept_tokens([PAD, *ids(b"-a")])  # tokens after the stop token are ignored
    assert cursor.is_terminated()
    assert cursor.accept_tokens(ids(b"3"))  # and so are later ones
    assert cursor.validate_tokens(ids(b"-a")) == []


def test_rollback_is_exact_stop_token_included(guide):
    cursor = GuideCursor(guide)
    cursor.accept_tokens(ids(b"1", b"2"))
    after_two = cursor.state
    cursor.accept_tokens(ids(b"-a", b"b", b"</s>"))
    assert cursor.is_terminated()
    cursor.rollback(1)
    assert not cursor.is_terminated() and guide.is_accepting(cursor.state)
    cursor.rollback(2)
    assert cursor.state == after_two
    with pytest.raises(UsageError, match="only 2 were accepted"):
        cursor.rollback(3)
    cursor.reset()
    assert cursor.state == guide.initial_state


def test_validate_returns_the_acceptable_prefix_without_moving(guide):
    cursor = GuideCursor(guide)
    assert cursor.validate_tokens(ids(b"1", b"2", b"-a", b"a")) == ids(b"1", b"2", b"-a")
    assert cursor.validate_tokens(ids(b"12", b"</s>", b"3")) == ids(b"12", b"</s>")
    assert cursor.validate_tokens(ids(b"1", b"</s>")) == ids(b"1")
    assert cursor.state == guide.initial_state


def test_masks_match_the_guide_and_batch_rows(guide):
    a, b = GuideCursor(guide), GuideCursor(guide, stop_ids=[PAD])
    b.accept_tokens(ids(b"12"))
    out = allocate(2, WIDTH)
    assert out.shape[1] == words_per_row(WIDTH) == 3
    fill_rows([a, b], out)
    for row, cursor in zip(out, [a, b]):
        bits = np.unpackbits(row.view(np.uint8), bitorder="little")
        expected = guide.allowed_tokens(cursor.state).numpy()
        expected_ids = set(np.flatnonzero(expected).tolist()) | (
            {PAD} if cursor is b else set())
        assert set(np.flatnonzero(bits).tolist()) == expected_ids
    assert max(allowed(b)) < len(TOKENS)  # nothing past the vocabulary


def test_a_follower_that_meets_a_forbidden_token_allows_only_stop_ids_from_then_on(guide):
    output: list[int] = []
    follower = OutputFollower(GuideCursor(guide, stop_ids=[PAD]), output)
    output += ids(b"1")
    assert follower.catch_up() is False and follower.cursor.state != guide.initial_state
    assert allowed(follower.cursor) == set(ids(b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7",
                                               b"8", b"9"))
    output += ids(b"2", b"a", b"3")  # "a" is forbidden after "12": another processor put it there
    assert follower.catch_up() is True
    assert follower.cursor.lost and len(follower.cursor._states) == 3  # "1", "2" taken, no more
    assert allowed(follower.cursor) == {EOS, PAD}
    output += ids(b"-a")
    assert follower.catch_up() is False and allowed(follower.cursor) == {EOS, PAD}
    clean = GuideCursor(guide)
    fill_rows([clean, follower.cursor], out := allocate(2, WIDTH))
    assert (out[1] == np.packbits(np.isin(np.arange(WIDTH + 26), [EOS, PAD]),
                                  bitorder="little").view(np.int32)).all()
    assert set(np.flatnonzero(np.unpackbits(out[0].view(np.uint8), bitorder="little"))) \
        == set(np.flatnonzero(guide.allowed_tokens(guide.initial_state).numpy()))
