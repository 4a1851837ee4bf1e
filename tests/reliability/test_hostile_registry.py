"""A malicious registry on loopback: whatever it sends, a pull is bounded and fails in one clear line.

Each case serves one crafted answer (tests/hostile.py) and checks the command line's
contract: exit status 1, one ``labkit:`` line of the right kind, no traceback; nothing of
the bad image recorded; and the lab root still usable: ``images ls`` works and the next
good pull succeeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile import Answer, HostileRegistry, endless, manifest_for, trickle

from labkit import builder, errors
from labkit.cli import main
from labkit.descriptor import OCI_INDEX, OCI_MANIFEST
from labkit.images import ImageStore
from labkit.reference import Reference
from labkit.remotes import Registry
from labkit.remotes._transport import Pace

GOOD = builder.image([builder.layer([builder.Entry("hello", data=b"hello\n")])], {"Cmd": ["cat", "/hello"]})
OTHER = builder.image([builder.layer([builder.Entry("other", data=b"other\n")])], {"Cmd": ["cat", "/other"]})


@pytest.fixture
def evil() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        server.publish("good/image", OTHER)
        yield server


def pull_fails(ref: str, capsys: pytest.CaptureFixture, *options: str) -> str:
    """Pull ``ref`` with the command line; its one line of error, once the store is shown to be usable."""
    assert main(["pull", "--plain-http", *options, ref]) == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("labkit: ") and captured.out == "", captured.err
    return lines[0]


def assert_usable(evil: HostileRegistry, capsys: pytest.CaptureFixture) -> None:
    """Nothing of the bad image recorded, and the next good pull and ``images ls`` work."""
    assert ImageStore().images() == []
    assert main(["pull", "--plain-http", f"{evil.address}/good/image"]) == 0
    assert main(["images", "ls"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and f"{evil.address}/good/image:latest" in captured.out


def _raw_manifest(evil: HostileRegistry, data: bytes, media_type: str = OCI_MANIFEST) -> str:
    for blob in GOOD.blobs:
        evil.serve(f"/v2/evil/image/blobs/{blob.digest}", Answer(blob.data))
    evil.serve_manifest("evil/image", "latest", data, media_type)
    return f"{evil.address}/evil/image"


_layer = json.loads(GOOD.manifest.data)["layers"][0]
_config_desc = json.loads(GOOD.manifest.data)["config"]
#: (what the registry serves as the manifest, its media type, the error kind, what the line says)
MALFORMED: dict[str, tuple[bytes, str, type[errors.LabkitError], str]] = {
    "not JSON": (b"<html>502 Bad Gateway</html>", OCI_MANIFEST, errors.InvalidArgument, "is not valid JSON"),
    "a list, not an object": (b"[]", OCI_MANIFEST, errors.InvalidArgument, "is a JSON array, not an object"),
    "size 1e999": (manifest_for(GOOD).replace(b'"size": %d' % _layer["size"], b'"size": 1e999'), OCI_MANIFEST,
                   errors.InvalidArgument, "size inf is not an int64"),
    "5000-digit number": (manifest_for(GOOD).replace(b'"size": %d' % _layer["size"], b'"size": ' + b"9" * 5000),
                          OCI_MANIFEST, errors.InvalidArgument, "Exceeds the limit"),
    "100k-deep nesting": (b'{"layers": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", OCI_MANIFEST,
                          errors.InvalidArgument, "maximum recursion depth"),
    "missing config": (json.dumps({"schemaVersion": 2, "layers": [_layer]}).encode(), OCI_MANIFEST,
                       errors.InvalidArgument, "has no config"),
    "layers: 5": (manifest_for(GOOD, layers=5), OCI_MANIFEST, errors.InvalidArgument, "'layers' is a JSON number"),
    "a layer that is a string": (manifest_for(GOOD, layers=["sha256:x"]), OCI_MANIFEST, errors.InvalidArgument,
                                 "invalid descriptor: a JSON string"),
    "config that is a list": (manifest_for(GOOD, config=[_config_desc]), OCI_MANIFEST, errors.InvalidArgument,
                              "invalid descriptor: a JSON array"),
    "non-string platform": (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {**json.loads(GOOD.manifest.data)["config"], "mediaType": OCI_MANIFEST, "platform": {"os": 5}}]}).encode(),
        OCI_INDEX, errors.InvalidArgument, "invalid platform"),
    "a manifest type that is a number": (manifest_for(GOOD, mediaType=7), OCI_MANIFEST, errors.DataCorrupted,
                                         "its mediaType is 7"),
}  # fmt: skip


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_registry_data_is_one_line(evil: HostileRegistry, lab_root: Path, capsys: pytest.CaptureFixture,
                                             case: str) -> None:
    data, media_type, kind, message = MALFORMED[case]
    ref = _raw_manifest(evil, data, media_type)
    with pytest.raises(kind, match=message):
        from labkit import pull

        pull(ref, plain_http=True)
    assert message.split(":")[0] in pull_fails(ref, capsys)
    assert_usable(evil, capsys)


CONFIGS: dict[str, tuple[bytes, str]] = {
    "an array": (b"[1, 2]", "is a JSON array, not an object"),
    "not JSON": (b"{", "is not valid JSON"),
    "no rootfs": (b'{"architecture": "amd64", "os": "linux"}', "rootfs.diff_ids is not an array of digests"),
    "a DiffID that is no digest": (b'{"rootfs": {"diff_ids": ["yes"]}}', "invalid digest 'yes'"),
    "Cmd a string": (b'{"rootfs": {"diff_ids": []}, "config": {"Cmd": "sh"}}', "config.Cmd is not"),
    "os a number": (b'{"rootfs": {"diff_ids": []}, "os": 1}', "os is a JSON number"),
}


@pytest.mark.parametrize("case", CONFIGS, ids=list(CONFIGS))
def test_a_config_that_does_not_check_out_is_never_saved(evil: HostileRegistry, lab_root: Path,
                                                         capsys: pytest.CaptureFixture, case: str) -> None:
    config, message = CONFIGS[case]
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = manifest_for(GOOD, config={**_config_desc, "digest": digest, "size": len(config)})
    ref = _raw_manifest(evil, manifest)
    evil.serve(f"/v2/evil/image/blobs/{digest}", Answer(config))
    assert message in pull_fails(ref, capsys)
    assert not ImageStore().content.exists(digest)
    assert_usable(evil, capsys)


def test_a_name_too_long_for_a_file_name_is_still_recorded(evil: HostileRegistry, lab_root: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    name = "a" * 219
    evil.publish(name, GOOD)
    assert main(["pull", "--plain-http", f"{evil.address}/{name}"]) == 0
    assert main(["images", "ls"]) == 0
    assert f"{evil.address}/{name}:latest" in capsys.readouterr().out
    assert ImageStore().get(f"{evil.address}/{name}").layers[0].digest == GOOD.layers[0].digest


def test_one_bad_record_is_named_once_and_the_rest_are_listed(evil: HostileRegistry, lab_root: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    """A record whose config is no object (as an older labkit saved it) does not hide the other images."""
    assert main(["pull", "--plain-http", f"{evil.address}/good/image"]) == 0
    store = ImageStore()
    bad_config = b"[]"
    bad_manifest = manifest_for(GOOD, config={**_config_desc, "digest": "sha256:" + hashlib.sha256(bad_config).hexdigest(),
                                              "size": len(bad_config)})  # fmt: skip
    for data in (bad_config, bad_manifest):
        with store.content.writer("sha256:" + hashlib.sha256(data).hexdigest(), len(data)) as writer:
            writer.write(data)
            writer.commit()
    manifest_desc = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + hashlib.sha256(bad_manifest).hexdigest(),
                     "size": len(bad_manifest)}  # fmt: skip
    record = {"name": "127.0.0.1:1/planted:latest", "target": manifest_desc, "manifest": manifest_desc}
    (store.root / "planted.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["images", "ls"]) == 0
    captured = capsys.readouterr()
    assert len(captured.err.splitlines()) == 1 and "planted.json is left out" in captured.err
    assert "is a JSON array, not an object" in captured.err
    assert [line.split()[0] for line in captured.out.splitlines()[1:]] == [f"{evil.address}/good/image:latest"]


# -- bounded bodies ------------------------------------------------------------------------------

#: run a command and print its peak resident memory in KiB. A child counts the memory of the process it was
#: forked from as its own (Linux keeps the high-water mark across exec), so pytest's cannot fork it directly.
_MEASURE = ("import resource, subprocess, sys; status = subprocess.call(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(status)")


def _peak_pull(ref: str, lab_root: Path) -> tuple[int, str, int]:
    """``labkit pull`` in a process of its own: its exit status, stderr, and peak resident memory in bytes."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "labkit", "pull", "--plain-http", ref],
                          env={**os.environ, "LABKIT_ROOT": str(lab_root)}, capture_output=True, text=True)  # fmt: skip
    return done.returncode, done.stderr, int(done.stdout.split()[-1]) * 1024


def _six_hundred_mib() -> Iterator[bytes]:
    chunk = b" " * (1 << 20)
    for _ in range(600):
        yield chunk


ENORMOUS: dict[str, tuple[Callable[[HostileRegistry], None], str]] = {
    "600 MiB served where HEAD said 2 bytes": (
        lambda evil: (evil.serve("/v2/evil/image/manifests/latest", Answer(b"{}", {
            "Content-Type": OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "0" * 64})),
            evil.serve("/v2/evil/image/manifests/sha256:" + "0" * 64, Answer(_six_hundred_mib))),
        "longer than the 2 bytes expected"),
    "an endless manifest, no length or digest": (
        lambda evil: evil.serve("/v2/evil/image/manifests/latest", Answer(endless(), {"Content-Type": OCI_MANIFEST})),
        f"longer than the {4 << 20} bytes expected"),
    "a HEAD that announces 600 MiB": (
        lambda evil: evil.serve("/v2/evil/image/manifests/latest", Answer(b"", {
            "Content-Type": OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "0" * 64,
            "Content-Length": str(600 << 20)})),
        "more than the 4 MiB labkit reads"),
}  # fmt: skip


@pytest.mark.parametrize("case", ENORMOUS, ids=list(ENORMOUS))
def test_an_enormous_manifest_is_refused_with_little_memory(evil: HostileRegistry, lab_root: Path, case: str) -> None:
    serve, message = ENORMOUS[case]
    serve(evil)
    status, stderr, peak = _peak_pull(f"{evil.address}/evil/image", lab_root)
    assert status == 1 and stderr.count("\n") == 1 and message in stderr, stderr
    assert peak < 100 << 20, f"peak memory {peak >> 20} MiB"


def test_a_trickling_body_is_given_up_on(evil: HostileRegistry) -> None:
    """At 1 byte every 20 ms (50 bytes/s) against a pace of 1000 bytes/s over 0.5 s windows."""
    layer = GOOD.layers[0]
    evil.publish("evil/image", GOOD)
    evil.serve(f"/v2/evil/image/blobs/{layer.digest}", Answer(trickle(layer.data, 0.02)))
    ref = Reference.parse(f"{evil.address}/evil/image")
    with Registry(ref.api_host, plain_http=True, pace=Pace(min_rate=1000, window=0.5)) as registry:
        from labkit.descriptor import Descriptor

        class Sink:
            offset = 0

            def write(self, data: bytes) -> None:
                self.offset += len(data)

        with pytest.raises(errors.Unavailable, match=r"slower than 1000 bytes/s; given up"):
            registry.fetch_blob(ref.path, Descriptor.from_dict(layer.descriptor), Sink())
        evil.serve(f"/v2/evil/image/manifests/{GOOD.manifest.digest}", Answer(trickle(GOOD.manifest.data, 0.02)))
        with pytest.raises(errors.Unavailable, match=r"slower than"):
            registry.fetch_manifest(ref.path, Descriptor.from_dict(GOOD.manifest.descriptor))
    assert Pace() == Pace(min_rate=1024, window=60)  # the default: 60 KiB a minute, or the pull gives up


# -- token servers and credentials -----------------------------------------------------------------

TOKEN_ANSWERS: dict[str, Answer] = {
    "not JSON": Answer(b"<html>"),
    "a list": Answer(b'["token"]'),
    "a number for a token": Answer(b'{"token": 12345}'),
    "a token with a newline": Answer(b'{"token": "abc\\r\\nX-Evil: 1"}'),
    "an empty token": Answer(b'{"token": ""}'),
    "a 403": Answer(b"{}", status=403),
    "a 404": Answer(b"{}", status=404),
    "an endless answer": Answer(endless()),
    "100k-deep nesting": Answer(b"[" * 100_000 + b"]" * 100_000),
}


@pytest.mark.parametrize("case", TOKEN_ANSWERS, ids=list(TOKEN_ANSWERS))
def test_a_bad_token_server_answer_is_one_line(evil: HostileRegistry, lab_root: Path,
                                               capsys: pytest.CaptureFixture, case: str) -> None:
    evil.publish("evil/image", GOOD)
    evil.challenge = f'Bearer realm="http://{evil.address}/token",service="evil"'
    evil.serve("/token", TOKEN_ANSWERS[case])
    line = pull_fails(f"{evil.address}/evil/image", capsys)
    assert line.startswith((f"labkit: token server http://{evil.address}/token ",  # what it answered is no token
                            f"labkit: GET http://{evil.address}/token?"))  # or its answer passed the cap
    evil.challenge = ""
    assert_usable(evil, capsys)


def test_a_token_with_a_strange_lifetime_is_still_used(evil: HostileRegistry, lab_root: Path) -> None:
    from labkit import pull

    evil.publish("evil/image", GOOD)
    evil.challenge, evil.authorization = f'Bearer realm="http://{evil.address}/token"', "Bearer t0k.en"
    evil.serve("/token", Answer(b'{"token": "t0k.en", "expires_in": "soon"}'))
    assert pull(f"{evil.address}/evil/image", plain_http=True).layers[0].digest == GOOD.layers[0].digest


def test_credentials_go_to_a_realm_on_another_host_only_when_trusted(evil: HostileRegistry, lab_root: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    """127.0.0.1 names a realm on ``localhost`` (the same server, but another host name: another origin)."""
    evil.publish("evil/image", GOOD)
    port = evil.address.rsplit(":", 1)[1]
    evil.challenge, evil.authorization = f'Bearer realm="http://localhost:{port}/token"', "Bearer granted"
    evil.serve("/token", Answer(b'{"token": "granted"}'))
    line = pull_fails(f"{evil.address}/evil/image", capsys, "--user", "alice:secret")
    assert line == (f"labkit: {evil.address.split(':')[0]} asks for your credentials to be sent to localhost, another "
                    "host; labkit sends them only to the registry's own host (if you trust it: --trust-realm localhost)")
    assert evil.seen("GET", "/token") == []
    assert main(["pull", "--plain-http", "--user", "alice:secret", "--trust-realm", "localhost",
                 f"{evil.address}/evil/image"]) == 0  # fmt: skip
    assert evil.seen("GET", "/token")[0].headers["Authorization"].startswith("Basic ")
    assert main(["pull", "--plain-http", f"{evil.address}/evil/image"]) == 0  # anonymous: nothing to leak, allowed


def test_after_a_cross_origin_redirect_no_challenge_is_answered(evil: HostileRegistry, lab_root: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    """A blob redirected to another origin that asks for credentials gets none, nor does the realm it names."""
    evil.publish("evil/image", GOOD)
    layer = GOOD.layers[0]
    with HostileRegistry() as storage:
        storage.publish("evil/image", GOOD)
        storage.challenge = f'Bearer realm="http://{storage.address}/token"'
        storage.serve("/token", Answer(b'{"token": "stolen"}'))
        evil.serve(f"/v2/evil/image/blobs/{layer.digest}",
                   Answer(status=307, headers={"Location": f"http://{storage.address}/v2/evil/image/blobs/{layer.digest}"}))
        line = pull_fails(f"{evil.address}/evil/image", capsys, "--user", "alice:secret")
        assert "which asks for credentials: labkit sends none to another origin" in line
        assert storage.seen("GET", "/token") == []
        assert all("Authorization" not in request.headers for request in storage.requests)
