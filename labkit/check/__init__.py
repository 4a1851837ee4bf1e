"""Exercise checks: each notebook's exercises, verified with a specific hint.

A check is a function ``labkit.check.<topic>.<exercise>(answer)`` that prints one
line: ``✔ <what is right>`` or ``✘ <a hint that names what is wrong>``, and returns
whether the answer passed. Hints say what to look at, not just "wrong": the learner
should be able to fix the answer from the hint alone. Each topic module is named
after its notebook (``check.registry`` for 05, ``check.runtime`` for 07, ...).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["passed", "hint"]


def passed(message: str) -> bool:
    """Report a right answer."""
    print(f"✔ {message}")
    return True


def hint(message: str) -> bool:
    """Report a wrong answer with a hint toward the right one."""
    print(f"✘ Not yet: {message}")
    return False


def __getattr__(name: str) -> ModuleType:
    """``labkit.check.<topic>`` imports that topic's checks on first use."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"labkit.check has no topic {name!r}") from None
