"""Checks for notebook 06 (layers and snapshots)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ..snapshots import chain_ids as _chain_ids
from . import hint, passed

__all__ = ["chain_ids"]

#: three made-up DiffIDs: the answer must work for any list, not only the image's
_DIFF_IDS = ["sha256:" + hashlib.sha256(name.encode()).hexdigest() for name in ("base", "middle", "top")]


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def chain_ids(answer: Callable[[list[str]], list[str]]) -> bool:
    """``answer``: a function from a list of DiffIDs to the list of ChainIDs (image spec, config.md)."""
    if not callable(answer):
        return hint(f"answer with a function that takes the DiffIDs, not a {type(answer).__name__}")
    try:
        got = list(answer(list(_DIFF_IDS)))
    except Exception as err:  # the learner's code: say what it raised
        return hint(f"your function raised {type(err).__name__}: {err}")
    want = _chain_ids(_DIFF_IDS)
    if got == want:
        return passed("ChainID(n) = sha256(ChainID(n-1) + ' ' + DiffID(n)): the name of every snapshot below a container")
    if len(got) != len(want):
        return hint(f"return one ChainID per layer: {len(want)} DiffIDs in, {len(got)} ChainIDs out")
    if got[0] != want[0]:
        return hint("the base layer's ChainID is its DiffID itself, unchanged")
    if got[1] == _sha(f"{_DIFF_IDS[0]} {_DIFF_IDS[1]}") and got[2] == _sha(f"{_DIFF_IDS[1]} {_DIFF_IDS[2]}"):
        return hint("each ChainID builds on the previous ChainID, not on the previous DiffID")
    if got[1] == _sha(f"{_DIFF_IDS[0]}{_DIFF_IDS[1]}"):
        return hint("join the previous ChainID and the DiffID with a single space")
    if got[1] == hashlib.sha256(f"{_DIFF_IDS[0]} {_DIFF_IDS[1]}".encode()).hexdigest():
        return hint("a ChainID is a digest: write it as 'sha256:' followed by the hex")
    return hint("hash the text f'{previous_chain_id} {diff_id}' (both with their 'sha256:' prefix) with sha256")
