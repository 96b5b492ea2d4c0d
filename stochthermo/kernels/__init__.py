"""Numba kernels: arrays and scalars in, arrays out. Private; no validation, no SymPy, no globals.

Each kernel is wrapped by a public function that validates its input, seeds it and wraps its
output; each has a slow NumPy twin under ``tests/``.
"""
