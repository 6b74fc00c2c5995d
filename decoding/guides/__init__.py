"""The guide layer: the state machines a decoding loop follows, and `compile`, which builds one.

`protocol` states the contract every guide follows (`TokenGuide`, and `ForcedTextGuide` for
jump-forward), `guide` is the automaton engine (`Guide`, `compile`), `partial` the `regex`
partial-match engine for patterns the automaton cannot express, `bitmask` fills serving engines'
int32 token bitmasks from any of them. Builds on `decoding.persist` and
below.
"""
