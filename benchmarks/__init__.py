"""Benchmarks for typedecode, with its peers measured in the same run (see `benchmarks/masks.py`)."""
