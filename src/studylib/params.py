"""Notebook parameters that hold a list or a dict, given as the value or as its string form.

papermill's ``-p NAME VALUE`` passes anything that is not a bool, None or a number as a string,
so ``-p seeds "[0, 1, 2]"`` reaches the notebook as the text ``'[0, 1, 2]'``; ``-y "seeds: [0, 1,
2]"`` (YAML) and ``execute_notebook(parameters=...)`` pass the list itself. :func:`literal`
accepts both: a string is read as a Python literal with :func:`ast.literal_eval` (which builds
only literals and never runs code), then the value is checked, and a wrong one is named with what
was expected and what was given, as the user typed it::

    >>> literal("seeds", "[0, 1, 2]", "a non-empty list of integers >= 0")
    [0, 1, 2]
    >>> literal("seeds", "[0, 1,", "a non-empty list of integers >= 0")
    Traceback (most recent call last):
    ValueError: seeds must be a non-empty list of integers >= 0, got '[0, 1,'
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

#: The kinds a list parameter may arrive as (a tuple is as good as a list here).
SEQUENCE = (list, tuple)


def literal(
    name: str,
    value: Any,
    expected: str,
    *,
    kinds: type | tuple[type, ...] = SEQUENCE,
    valid: Callable[[Any], bool] | None = None,
) -> Any:
    """``value``, or the literal that its string form spells, checked.

    ``kinds`` are the types the parameter takes (default: a list or a tuple) and ``valid`` an
    optional further test of the value (e.g. every item an integer >= 0). A value that is not a
    literal of one of ``kinds``, or that ``valid`` rejects, raises ValueError with ``name``,
    ``expected`` and the value as given.
    """
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if str in kinds:  # a string would be ambiguous: the value itself or its string form
        raise TypeError(f"literal() parses strings, so kinds cannot include str; got {kinds}")
    parsed = value
    if isinstance(value, str):
        try:
            parsed = ast.literal_eval(value.strip())
        # literal_eval raises these on text that is not one literal; a deep nesting recurses
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(f"{name} must be {expected}, got {value!r}") from None
    if not isinstance(parsed, kinds) or (valid is not None and not valid(parsed)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return parsed


def is_int(value: Any) -> bool:
    """An int that is not a bool (``True`` is an int to Python but never a seed or a ratio)."""
    return isinstance(value, int) and not isinstance(value, bool)


def names(name: str, value: Any, known: Sequence[str]) -> list[str]:
    """A non-empty list of names out of ``known`` (or its string form), for parameters that pick
    settings by name; an unknown name raises ValueError naming it and what is known."""
    expected = f"a non-empty list of {list(known)}"
    chosen = literal(
        name,
        value,
        expected,
        valid=lambda items: bool(items) and all(isinstance(item, str) for item in items),
    )
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise ValueError(f"{name} must be {expected}; unknown: {unknown}")
    return list(chosen)
