"""Checks for notebook 00, the big picture."""

from __future__ import annotations

from . import hint, passed

__all__ = ["call_chain"]

CHAIN = ("kubelet", "containerd", "shim", "runc", "container")

_WHY = {
    "kubelet": "kubelet is where it starts: Kubernetes' node agent asks for a container through CRI",
    "containerd": "containerd receives the CRI call and supervises everything below it",
    "shim": "containerd starts one shim per container; the shim is what stays as the container's parent",
    "runc": "the shim runs runc, which turns the bundle into a process and exits",
    "container": "the container process is the end of the chain, started by runc",
}


def call_chain(answer: list[str]) -> bool:
    """``answer``: the parts from Kubernetes down to the process, in the order they call each other."""
    words = [str(part).strip().lower() for part in answer]
    unknown = [w for w in words if w not in CHAIN]
    if unknown:
        return hint(f"{unknown[0]!r} is not one of the parts in the picture: use {', '.join(CHAIN)}")
    for position, (want, got) in enumerate(zip(CHAIN, words, strict=False)):  # lengths compared below
        if want != got:
            return hint(f"place {position + 1} should be {want!r}, not {got!r}: {_WHY[want]}")
    if len(words) != len(CHAIN):
        return hint(f"the chain has {len(CHAIN)} parts, your answer has {len(words)}")
    return passed("kubelet → containerd → shim → runc → container: that is the chain of notebook 00's picture")
