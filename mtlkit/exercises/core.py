"""The exercise registry: ``check`` a learner's function against a reference, ``hint`` one step at a time."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from ..config import check_choice


class Failed(Exception):
    """A checker's verdict: the first property the learner's function broke, in words a student can act on."""


@dataclass
class Exercise:
    """One exercise: what to write, a reference solution and a checker that compares the two."""

    name: str
    notebook: str                     # e.g. "04_loss_weighting"
    statement: str                    # one paragraph: what to implement
    signature: str                    # the function's signature with tensor shapes
    reference: Callable               # the reference solution
    checker: Callable                 # checker(fn, reference) -> str (what was checked) or raises Failed
    hints: list = field(default_factory=list)


EXERCISES: dict[str, Exercise] = {}
"""Every exercise by name (filled by the modules of this package)."""

_hints_given: dict[str, int] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to :data:`EXERCISES` (a name may appear once)."""
    if exercise.name in EXERCISES:
        raise ValueError(f"an exercise named {exercise.name!r} is already registered")
    EXERCISES[exercise.name] = exercise
    return exercise


def _get(name: str) -> Exercise:
    check_choice("exercise", name, tuple(EXERCISES))
    return EXERCISES[name]


def check(name: str, fn) -> bool:
    """Run ``fn`` against the reference of exercise ``name`` and print one verdict; True when it passed.

    An untouched stub (``raise NotImplementedError``) is reported as not done yet, without raising, so a
    notebook with unfinished exercises runs to the end.
    """
    exercise = _get(name)
    try:
        checked = exercise.checker(fn, exercise.reference)
    except NotImplementedError:
        print(f"{name}: not done yet (your function still raises NotImplementedError). "
              f"Ask for a hint with hint({name!r}).")
        return False
    except Failed as failure:
        print(f"{name}: not yet. {failure}")
        return False
    print(f"{name}: passed. Checked: {checked}.")
    return True


def hint(name: str) -> str:
    """The next hint of exercise ``name`` (one more at each call), printed and returned."""
    exercise = _get(name)
    given = _hints_given.get(name, 0)
    if given >= len(exercise.hints):
        text = f"no more hints for {name}; solution({name!r}) shows the reference"
    else:
        text = f"hint {given + 1} of {len(exercise.hints)}: {exercise.hints[given]}"
        _hints_given[name] = given + 1
    print(text)
    return text


def solution(name: str) -> str:
    """The reference solution's source code of exercise ``name``, printed and returned (ask only when stuck)."""
    text = inspect.getsource(_get(name).reference)
    print(text)
    return text


def run(fn, *args, what: str):
    """Call the learner's ``fn``; any error other than NotImplementedError becomes a :class:`Failed` naming ``what``."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - the learner's code may raise anything; say which input did it
        raise Failed(f"your function raised {type(error).__name__}: {error} (on {what})") from None
