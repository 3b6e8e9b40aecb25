"""The examples in the package's docstrings run, and say what they show.

Examples that need a trained run directory or a network are marked
``# doctest: +SKIP`` where they stand; everything else executes here.
"""

import doctest
import importlib
import pkgutil

import pytest

import tf_transformer

# Entry points that act when imported, not libraries.
NOT_LIBRARIES = {"tf_transformer.__main__", "tf_transformer.corpus.__main__"}
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(tf_transformer.__path__, "tf_transformer.")
    if m.name not in NOT_LIBRARIES
)


def test_there_are_examples():
    found = sum(
        len([e for t in doctest.DocTestFinder().find(importlib.import_module(name)) for e in t.examples])
        for name in MODULES
    )
    assert found >= 20, found


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
