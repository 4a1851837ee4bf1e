"""The layer browser, the snapshot diagrams and notebook 06's check, on images built here."""

from __future__ import annotations

import hashlib
from pathlib import Path

from labkit import snapshots
from labkit.check.snapshots import chain_ids
from labkit.diagrams.snapshots import overlay_mount, snapshot_chain
from labkit.widgets.layers import LayerBrowser, history
from snapshots.helpers import BASE, CHANGES, Layout


def test_the_browser_tells_which_layer_did_what(tmp_path: Path) -> None:
    browser = LayerBrowser(Layout.build(tmp_path / "image", [BASE, CHANGES]), prefix="opq")
    assert browser.rows() == [("opq", ["+", ""]), ("opq/a", ["+", "−"]), ("opq/b", ["+", "−"]), ("opq/c", ["", "+"])]
    assert history(browser.changes, "/gone/x") == [(0, "added"), (1, "deleted")]
    assert history(browser.changes, "bin/ls") == [(0, "added"), (1, "changed")]
    browser.filter.value = "bin/s"
    assert [path for path, _ in browser.rows()] == ["bin/sh", "bin/sh2", "bin/su"]
    assert "opq/c" not in browser.text()


def test_the_diagrams_name_snapshots_not_host_paths(tmp_path: Path, lab_root: Path) -> None:
    sn = snapshots.get("overlay", lab_root)
    top = snapshots.unpack(Layout.build(tmp_path / "image", [BASE, CHANGES]), sn)
    sn.prepare("ctr", top)
    chain = snapshot_chain(sn).source
    assert f'"{top[:19]}\ncommitted · snapshots/2"' in chain and "ctr\nactive · snapshots/3" in chain
    mount = overlay_mount(sn, "ctr").source
    assert "upperdir (writes land here)\nsnapshots/3/fs" in mount and str(lab_root) not in mount
    assert mount.index("snapshots/2/fs") < mount.index("snapshots/1/fs")  # lowerdir: top first


def test_the_check_hints_at_the_mistake(capsys) -> None:  # type: ignore[no-untyped-def]
    def right(diff_ids: list[str]) -> list[str]:
        return snapshots.chain_ids(diff_ids)

    def no_space(diff_ids: list[str]) -> list[str]:
        chain = [diff_ids[0]]
        for diff_id in diff_ids[1:]:
            chain.append("sha256:" + hashlib.sha256((chain[-1] + diff_id).encode()).hexdigest())
        return chain

    assert chain_ids(right) and not chain_ids(no_space) and not chain_ids(lambda ids: ids)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✔") and "single space" in out[1] and "hash the text" in out[2]
