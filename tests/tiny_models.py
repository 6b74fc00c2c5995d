"""Tiny random-weight causal language models for the generation tests.

`tiny_llama(tokenizer, seed)` builds, in a few seconds, a 2-layer Llama whose vocabulary is the
tokenizer's (ids `0..len(tokenizer)-1`, plus `extra_vocab` unused ids), with weights drawn from
`seed` (large initializer range, so sampling visits many different tokens: random weights are the
hardest user of the masks).

Steering hooks (context managers; they leave the model as it was on exit):
- `Script(model, tokenizer, text)`: the model says `text` (a large bonus on the next scripted
  token at every step), starting over at every new prompt (a forward without a cache). Tokens
  fed several at once (jump-forward) count as scripted ones: a cached forward of n ids moves the
  script n tokens on, and a prompt that ends with the script's first k ids starts it at k.
- `boost(model, ids, bonus)`: `bonus` added to the logits of `ids` at every step.
- `record_inputs(model)`: a list that receives `(input_ids shape, cache passed?)` per forward.
- `single_thread()`: torch on one thread meanwhile. The tiny model's operations are small, and
  on a shared, oversubscribed machine torch's thread pool makes each of them tens of ms.
"""

from __future__ import annotations

import contextlib

import torch


def tiny_llama(tokenizer, seed: int = 0, dtype: torch.dtype = torch.float32,
               extra_vocab: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer) + extra_vocab,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=2048,
        initializer_range=0.5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(dtype)
    model.eval()
    return model


class Script:
    """Make the model say `text` (see the module docstring)."""

    def __init__(self, model, tokenizer, text: str, bonus: float = 1000.0):
        self.ids = tokenizer.encode(text, add_special_tokens=False)
        self.bonus = bonus
        self.step = 0
        self._handles = [model.register_forward_pre_hook(self._restart, with_kwargs=True),
                         model.lm_head.register_forward_hook(self._steer)]

    def _restart(self, module, args, kwargs):
        ids = kwargs["input_ids"][0].tolist()
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        if cache is None or cache.get_seq_length() == 0:
            self.step = max(k for k in range(min(len(ids), len(self.ids)) + 1)
                            if k == 0 or ids[-k:] == self.ids[:k])
        else:
            self.step += len(ids) - 1  # the one chosen token is counted by _steer

    def _steer(self, module, args, output):
        if self.step < len(self.ids):
            output = output.clone()
            output[..., -1, self.ids[self.step]] += self.bonus
        self.step += 1
        return output

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()


@contextlib.contextmanager
def boost(model, ids, bonus: float):
    def hook(module, args, output):
        output = output.clone()
        output[..., ids] += bonus
        return output

    handle = model.lm_head.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextlib.contextmanager
def record_inputs(model):
    calls = []

    def hook(module, args, kwargs):
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        calls.append((tuple(kwargs["input_ids"].shape), cache is not None))

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield calls
    finally:
        handle.remove()


@contextlib.contextmanager
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
