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

#: public name -> "module:attribute" that defines it
_LAZY = {
    "pull": "labkit.images:pull",
    "Image": "labkit.images:Image",
    "Supervisor": "labkit.supervisor:Supervisor",
    "Envelope": "labkit.events:Envelope",
    "doctor": "labkit.lab.doctor:diagnose",
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


def __getattr__(name: str) -> object:
    import importlib  # here: every `labkit` command imports this package, and most never need it

    if name == "check":  # the exercises' checks: labkit.check.<topic>.<exercise>(answer)
        return importlib.import_module("labkit.check")
    if name in _LAZY:
        module, _, attribute = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
