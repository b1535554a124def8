"""One error tree: every error the lab reports is a LabError, and the module's docstring draws all of it."""

from __future__ import annotations

import inspect

import lab.errors as errors


def classes() -> list[type[errors.LabError]]:
    return [value for value in vars(errors).values() if inspect.isclass(value) and issubclass(value, errors.LabError)]


def test_every_error_is_exported_and_drawn_in_the_tree() -> None:
    names = {cls.__name__ for cls in classes()}
    assert names == set(errors.__all__)
    tree = errors.__doc__ or ""
    for cls in classes():
        parent = cls.__mro__[1].__name__
        assert cls.__name__ in tree, cls
        if cls is not errors.LabError:  # drawn below its parent, indented further
            line = next(li for li in tree.splitlines() if f" {cls.__name__} " in li + " ")
            parent_line = next(
                li for li in tree.splitlines() if f" {parent} " in li + " " or li.strip().startswith(parent)
            )
            assert line.index(cls.__name__) > parent_line.index(parent), (cls, parent)


def test_usage_is_one_keyword_everywhere() -> None:
    assert errors.BurstError("x").usage is False
    assert errors.BurstError("x", usage=True).usage is True
    assert errors.UnknownExercise("no exercise 'x'").usage is True
    assert str(errors.ServerError("cannot listen")) == "cannot listen"
    assert issubclass(errors.LoadError, errors.ServerError)
