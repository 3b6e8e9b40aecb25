"""What the tests share, imported by test modules (``from helpers import runs``) instead of
``conftest`` or one another.

- ``shared``: artifacts built once per session for every test and xdist worker (a file lock,
  a fresh process);
- ``runs``: the session's trained runs and export, smoke settings as flags, corpus sentences, bad inputs;
- ``models``: tiny models with fixed weights and the comparisons the layer tests make;
- ``processes``: fresh Python processes, with or without ``tf_transformer`` importable;
- ``browser``: a headless Chromium for the pages;
- ``suite``: the suite's own bookkeeping (durations, groups for the workers, the budget).
"""
