"""Exercise checks: each notebook's exercises, verified with a specific hint.

A check is a function ``labkit.check.<topic>.<exercise>(answer)`` that prints one
line: ``✔ <what is right>`` or ``✘ <a hint that names what is wrong>``, and returns
whether the answer passed. Hints say what to look at, not just "wrong": the learner
should be able to fix the answer from the hint alone. Each topic module is named
after its notebook (``check.registry`` for 05, ``check.runtime`` for 07, ...); a notebook
imports the topic it uses (``import labkit.check.runtime``).
"""

from __future__ import annotations

__all__ = ["passed", "hint"]


def passed(message: str) -> bool:
    """Report a right answer."""
    print(f"✔ {message}")
    return True


def hint(message: str) -> bool:
    """Report a wrong answer with a hint toward the right one."""
    print(f"✘ Not yet: {message}")
    return False

