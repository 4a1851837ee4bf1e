"""Every error labkit raises, and the one root they share.

A learner (or a notebook) catches ``labkit.LabkitError`` to handle any failure; a
program that needs to tell failures apart catches one of its kinds. The kinds are
containerd's own (``github.com/containerd/errdefs``), so that what labkit says
maps onto what containerd and gRPC say for the same situation::

    LabkitError
     ├── InvalidArgument        a bad reference, filter, option or archive
     ├── NotFound               no such image, blob, snapshot, container, task
     ├── AlreadyExists          that name or id is taken
     ├── FailedPrecondition     the object is in the wrong state for the call
     │                          (start a running task, delete a running one, ...),
     │                          or the host is (the disk is full: ``disk_error``)
     ├── Unavailable            a service or tool cannot be reached or is missing
     │                          (registry down, runc not installed, 5xx after retries)
     ├── PermissionDenied       the registry or the kernel refused (wrong password, no root)
     └── DataCorrupted          bytes do not match their digest or size

The message of every error is one line that names what was wrong, so that the
command line can print it as it is (``labkit: <message>``) with no traceback. An error
that crosses from one process to another (a shim's to its launcher) travels as data,
``{"kind": ..., "message": ...}`` (:func:`to_data`, :func:`from_data`), never as text to parse.
"""

from __future__ import annotations

import errno

__all__ = [
    "LabkitError",
    "InvalidArgument",
    "NotFound",
    "AlreadyExists",
    "FailedPrecondition",
    "Unavailable",
    "PermissionDenied",
    "DataCorrupted",
    "KINDS",
    "to_data",
    "from_data",
    "disk_error",
]


class LabkitError(Exception):
    """The root of every error labkit raises on purpose."""


class InvalidArgument(LabkitError, ValueError):
    """The caller's input is malformed: a reference, a filter, an option, an archive."""


class NotFound(LabkitError, LookupError):
    """The named object does not exist (image, blob, snapshot, container, task)."""


class AlreadyExists(LabkitError):
    """An object with that name or id already exists."""


class FailedPrecondition(LabkitError):
    """The object exists but is in the wrong state for the call (a lifecycle rule)."""


class Unavailable(LabkitError):
    """A service or a tool labkit depends on cannot be reached or is not installed."""


class PermissionDenied(LabkitError, PermissionError):
    """Credentials were refused, or the host does not allow the operation."""


class DataCorrupted(LabkitError):
    """Bytes do not match the digest or size that was promised for them."""


#: every kind by its name, as an error travels between processes (:func:`to_data`, :func:`from_data`)
KINDS: dict[str, type[LabkitError]] = {
    kind.__name__: kind
    for kind in (LabkitError, InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, Unavailable,
                 PermissionDenied, DataCorrupted)
}


def to_data(error: LabkitError) -> dict[str, str]:
    """An error as JSON-ready data, ``{"kind": "NotFound", "message": "..."}``, to send to another process."""
    return {"kind": type(error).__name__, "message": str(error)}


def from_data(data: dict[str, str]) -> LabkitError:
    """The error :func:`to_data` described (a kind this labkit does not know becomes a plain ``LabkitError``)."""
    return KINDS.get(data.get("kind", ""), LabkitError)(data.get("message", "failed without a message"))


def disk_error(err: OSError, doing: str) -> LabkitError:
    """What an ``OSError`` from writing lab state means, as one line: ``doing`` says what was being written.

    A full disk or quota (ENOSPC, EDQUOT) is a FailedPrecondition: nothing is wrong with
    the request, and it succeeds once space is freed. Refused access is PermissionDenied;
    anything else is Unavailable, with the system's words for it.
    """
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return FailedPrecondition(f"no space left on the device {doing}")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDenied(f"{doing}: {err.strerror}")
    return Unavailable(f"{doing}: {err.strerror or err}")
