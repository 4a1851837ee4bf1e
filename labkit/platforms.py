"""Platforms: which OS and CPU a manifest is built for, and how to pick one from an index.

An image index lists one manifest per platform, each with ``platform{os, architecture,
variant}`` (OCI image spec, image-index.md). A puller takes the first entry that matches
the platform it wants, by default the host's. Names are normalised the way containerd's
``platforms`` package does it, so that ``x86_64`` and ``amd64`` are the same CPU.
"""

from __future__ import annotations

import platform as _host
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import InvalidArgument

__all__ = ["Platform"]

# containerd platforms/database.go: architecture aliases -> (architecture, default variant)
_ARCHITECTURES = {
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "arm": ("arm", "v7"),
    "i386": ("386", ""),
    "i686": ("386", ""),
}


@dataclass(frozen=True)
class Platform:
    """``os/architecture[/variant]``, normalised (``aarch64`` → ``arm64``, ``arm`` → ``arm/v7``)."""

    os: str
    architecture: str
    variant: str = ""

    def __post_init__(self) -> None:
        architecture, default_variant = _ARCHITECTURES.get(self.architecture.lower(), (self.architecture.lower(), ""))
        variant = self.variant.lower() or default_variant
        if architecture == "arm64" and variant == "v8":
            variant = ""  # arm64's only variant is v8: the same platform
        object.__setattr__(self, "os", self.os.lower())
        object.__setattr__(self, "architecture", architecture)
        object.__setattr__(self, "variant", variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]`` as ``--platform`` takes it (``linux/arm64``, ``linux/arm/v7``)."""
        parts = text.split("/")
        if not 2 <= len(parts) <= 3 or not all(parts):
            raise InvalidArgument(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT], e.g. linux/amd64")
        return cls(*parts)

    @classmethod
    def host(cls) -> Platform:
        """The platform this machine runs: what a pull picks when none is asked for."""
        return cls(_host.system(), _host.machine())

    @classmethod
    def from_dict(cls, data: object) -> Platform:
        """Read an index entry's ``platform`` object: ``os``, ``architecture`` and ``variant`` strings
        (image-index.md, "platform"); the index comes from a registry, so anything else is refused."""
        fields = ("os", "architecture", "variant")
        if not isinstance(data, Mapping) or not all(isinstance(data.get(key, ""), str) for key in fields):
            raise InvalidArgument(f"invalid platform {repr(data)[:100]}: expected an object of os, architecture, "
                                  "variant strings")
        return cls(*(data.get(key, "") for key in fields))

    def to_dict(self) -> dict[str, str]:
        """The ``platform`` object as an index holds it."""
        data = {"os": self.os, "architecture": self.architecture}
        return data | ({"variant": self.variant} if self.variant else {})

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)
