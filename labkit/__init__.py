"""labkit: the Python package behind Runtime Lab, a miniature containerd.

The public surface is what a notebook uses (design.md, "Python API")::

    import labkit
    img = labkit.pull("127.0.0.1:5000/lab/busybox:latest", plain_http=True)
    sup = labkit.Supervisor()
    ...

Each name below lives in the module named after its containerd concept; this file
only gathers them. The exercises' checks are ``labkit.check.<topic>`` (import the topic).
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
from .events import Envelope
from .images import Image, pull
from .lab.doctor import diagnose as doctor
from .supervisor import Supervisor

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "DataCorrupted",
    "Envelope",
    "FailedPrecondition",
    "Image",
    "InvalidArgument",
    "LabkitError",
    "NotFound",
    "PermissionDenied",
    "Supervisor",
    "Unavailable",
    "doctor",
    "pull",
]
