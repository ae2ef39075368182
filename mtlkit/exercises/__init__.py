"""Checked exercises: write an algorithm's core, then ``check(name, fn)`` compares it with a reference.

``hint(name)`` gives one hint at a time, ``solution(name)`` shows the reference, ``EXERCISES`` lists them all.
"""
from . import adversary, chance, corpora, languages, meta, pooling, sharing, task_embedding, weighting  # noqa: F401  (each module registers its exercises)
from .core import EXERCISES, Exercise, Failed, check, hint, solution

__all__ = ["EXERCISES", "Exercise", "Failed", "check", "hint", "solution"]
