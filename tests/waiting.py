"""The one way tests wait: for a condition to hold, never for a fixed time.

``wait_until(predicate, timeout)`` polls ``predicate`` until it returns something true and
returns that; after ``timeout`` seconds it fails the test with ``message``. A test that
must see something happen waits for the thing itself (a record written, a process gone, an
event received), so it is as fast as the machine allows and never flaky on a slow one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, message: str = "the condition never held",
               interval: float = 0.01) -> T:
    """Poll ``predicate`` every ``interval`` seconds until it is true; return its value, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (within {timeout:g} s)")
        time.sleep(interval)
    return value
