"""labkit: the Python package behind Runtime Lab, a miniature containerd.

The public surface is what a notebook uses (design.md, "Python API")::

    import labkit
    img = labkit.pull("127.0.0.1:5000/lab/busybox:latest", plain_http=True)
    sup = labkit.Supervisor()
    ...

Each name below lives in the module named after its containerd concept; this file
only gathers them. They are imported on first use, so that ``import labkit`` (and the
``labkit`` command's start-up) does not pay for httpx or ipywidgets until they are needed.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    AlreadyExists,
    DataCorrupted,
    FailedPrecondition,
    InvalidArgument,
    LabkitError,
    NotFound,
    PermissionDenied,
    Unavailable,
)

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    "pull": "labkit.images",
    "Image": "labkit.images",
    "Reference": "labkit.reference",
    "Supervisor": "labkit.supervisor",
    "Envelope": "labkit.events",
    "doctor": "labkit.lab.doctor",
}

__all__ = [
    "LabkitError",
    "InvalidArgument",
    "NotFound",
    "AlreadyExists",
    "FailedPrecondition",
    "Unavailable",
    "PermissionDenied",
    "DataCorrupted",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
