"""``show``: how the notebooks put a library object's source on the page.

The course explains the library line by line from its own source, never from a copy, so what a
notebook shows is what the package runs now (``tests/course/test_course.py`` checks every committed
``show`` output against the current source).

Example:
    >>> from tf_transformer.course import show
    >>> from tf_transformer.layers import causal_mask
    >>> show(causal_mask)  # (in Jupyter: the same text, highlighted as Python)
    def causal_mask(query_length, key_length, offset=0):
        ...
        return key_pos <= query_pos
"""

from __future__ import annotations

import inspect


def show(obj) -> None:
    """Display the source of ``obj`` (a class, function or module) as the installed package has it:
    highlighted Python in a Jupyter kernel, plain text anywhere else."""
    source = inspect.getsource(obj)
    try:
        from IPython import get_ipython
        from IPython.display import Code, display
    except ImportError:  # (a Python without IPython)
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(source.rstrip("\n"))
        return
    display(Code(source, language="python"))
