"""Self-checks for the exercises that end every chapter (book/02_autoencoders.ipynb onwards).

A chapter keeps the answers in a cell hidden in the HTML and hands them to `answer_checker`;
the reader calls the returned `check_answer("exercise 1", their_number)` and learns whether it
is right without seeing the answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def answer_checker(
    answers: dict[str, float], tolerance: float = 1e-3
) -> Callable[[str, float | None], bool | None]:
    """A `check_answer(exercise, yours)` that compares with `answers` to a relative tolerance.

    It prints one line (right, or not yet) and returns True/False; None when `yours` is None,
    the placeholder the exercise cells start with. Used by every chapter's exercises, from
    `book/02_autoencoders.ipynb` on (CONTRIBUTING.md, 'Notebooks', item 10).
    """
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")

    def check_answer(exercise: str, yours: float | None) -> bool | None:
        if exercise not in answers:
            raise ValueError(f"no exercise {exercise!r}; this chapter has {sorted(answers)}")
        if yours is None:
            print(f"{exercise}: put your number in place of None and run again.")
            return None
        exact = answers[exercise]
        right = math.isfinite(yours) and abs(yours - exact) <= tolerance * abs(exact)
        print(f"{exercise}: {'right.' if right else 'not yet; compare with the solution.'}")
        return right

    return check_answer
