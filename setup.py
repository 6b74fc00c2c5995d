"""The one compiled module, the trie walk (`decoding/tokens/_walk.c`); everything else is in
pyproject.toml. `optional=True`: where no C compiler is found the install still succeeds and
`decoding.tokens.walk` uses its numpy walk."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("decoding.tokens._walk", ["decoding/tokens/_walk.c"],
                             extra_compile_args=["-O3"], optional=True)])
