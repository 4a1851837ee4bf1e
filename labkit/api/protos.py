"""Generate Python gRPC stubs for containerd's API from the ``.proto`` files Debian ships.

containerd's API is defined in protocol buffers: ``api/services/*/v1/*.proto`` (the gRPC
services: events, containers, tasks, ...), ``api/events/*.proto`` (the event payloads an
envelope carries) and ``api/types/*.proto``. Debian packages them in
``golang-github-containerd-containerd-dev``; their imports come from two more packages:

- ``gogoproto/gogo.proto`` (Go code-generation options) and a copy of Google's
  well-known types (``google/protobuf/any.proto``, ``timestamp.proto``, ...):
  ``golang-github-gogo-protobuf-dev``.

The stubs are generated at set-up time with grpcio-tools into ``labkit/_generated/``,
which git ignores: generated code is never committed. Run ``python -m labkit.api.protos``
(the set-up script does); it returns at once when the stubs are already up to date.

Protoc names a Python module after the ``.proto`` file's path, and
``github.com/containerd/...`` is not a valid module path. So the files are copied into
a staging tree under ``labkit/_generated/`` with their import lines rewritten, which makes
``labkit/_generated/containerd/api/events/task.proto`` the module
``labkit._generated.containerd.api.events.task_pb2``. Package names inside the files
(``containerd.events``) are untouched, so messages keep their wire names: an event's
type URL is still ``containerd.events.TaskStart``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import re
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from ..errors import Unavailable

__all__ = ["GOCODE", "OUTPUT", "generate", "load"]

#: where Debian's Go source packages put their files
GOCODE = Path("/usr/share/gocode/src/github.com")
#: where the stubs go (a package inside labkit; git-ignored)
OUTPUT = Path(__file__).resolve().parent.parent / "_generated"

_CONTAINERD = GOCODE / "containerd/containerd"
_GOGO = GOCODE / "gogo/protobuf"
#: the directory that contains ``google/protobuf/*.proto`` (gogo's copy of the well-known types)
_WELL_KNOWN = _GOGO / "protobuf"
#: import prefix of a rewritten file: its path under the package root
_PREFIX = "labkit/_generated/"
#: the services labkit uses or serves (``introspection`` would need googleapis' status.proto too)
_SERVICES = ("containers", "events", "images", "namespaces", "tasks", "version")
_IMPORT = re.compile(r'^(import\s+(?:weak\s+|public\s+)?)"(?!google/)([^"]+)"', re.MULTILINE)


def _sources() -> dict[str, Path]:
    """Staged name (relative to ``_PREFIX``) -> Debian's file, for every proto the API needs."""
    if not _CONTAINERD.is_dir() or not (_GOGO / "gogoproto/gogo.proto").is_file():
        raise Unavailable(
            "containerd's .proto files are missing: apt-get install golang-github-containerd-containerd-dev"
        )
    api = _CONTAINERD / "api"
    paths = [*api.glob("types/**/*.proto"), *api.glob("events/*.proto")]
    paths += [p for service in _SERVICES for p in api.glob(f"services/{service}/v1/*.proto")]
    files = {f"containerd/{p.relative_to(_CONTAINERD)}": p for p in sorted(paths)}
    # the runc shim's options, which /containers/create carries in an Any
    files["containerd/runtime/v2/runc/options/oci.proto"] = _CONTAINERD / "runtime/v2/runc/options/oci.proto"
    # containerd 1.6 keeps the fieldpath option here and imports gogo's options everywhere; 1.7 moved the
    # option to api/types/fieldpath.proto (found above) and dropped gogo
    old_fieldpath = _CONTAINERD / "protobuf/plugin/fieldpath.proto"
    if old_fieldpath.is_file():
        files["containerd/protobuf/plugin/fieldpath.proto"] = old_fieldpath
    files["gogoproto/gogo.proto"] = _GOGO / "gogoproto/gogo.proto"
    return files


def _staged_import(match: re.Match[str]) -> str:
    """``"github.com/containerd/containerd/x.proto"`` -> ``"labkit/_generated/containerd/x.proto"``."""
    path = match.group(2).removeprefix("github.com/containerd/")
    return f'{match.group(1)}"{_PREFIX}{path}"'


def _fingerprint(files: dict[str, Path]) -> str:
    """What the stubs depend on: the sources' contents, the generator's version and this module's rewriting."""
    digest = hashlib.sha256(importlib.metadata.version("grpcio-tools").encode())
    digest.update(Path(__file__).read_bytes())
    for name, path in files.items():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def generate(*, force: bool = False) -> Path:
    """Generate the stubs into :data:`OUTPUT` unless they are up to date; return :data:`OUTPUT`.

    Writes into a temporary directory first and swaps it in, so that a failed or
    interrupted run never leaves half a package behind.
    """
    try:  # a build tool, in the `stubs` extra: only generating needs it
        from grpc_tools import protoc
    except ModuleNotFoundError:
        raise Unavailable("generating containerd's stubs needs grpcio-tools: pip install 'labkit[stubs]'") from None

    files = _sources()
    stamp = _fingerprint(files)
    if not force and (OUTPUT / "STAMP").is_file() and (OUTPUT / "STAMP").read_text() == stamp:
        return OUTPUT
    with tempfile.TemporaryDirectory(dir=OUTPUT.parent) as tmp:
        top = Path(tmp)
        staged = top / _PREFIX
        for name, path in files.items():
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            (staged / name).write_text(_IMPORT.sub(_staged_import, path.read_text()))
        args = ["protoc", f"-I{top}", f"-I{_WELL_KNOWN}", f"--python_out={top}", f"--grpc_python_out={top}"]
        if protoc.main(args + [str(staged / name) for name in files]) != 0:
            raise Unavailable("protoc failed to compile containerd's .proto files (see its messages above)")
        for directory in [staged, *(p for p in staged.rglob("*") if p.is_dir())]:
            (directory / "__init__.py").touch()
        (staged / "STAMP").write_text(stamp)
        shutil.rmtree(OUTPUT, ignore_errors=True)
        staged.rename(OUTPUT)
    importlib.invalidate_caches()
    return OUTPUT


def load(name: str) -> ModuleType:
    """Import one generated module by its proto path, e.g. ``load("api/events/task_pb2")``.

    Raises :class:`~labkit.errors.Unavailable` with the command to run when the stubs
    have not been generated.
    """
    if not (OUTPUT / "STAMP").is_file():
        raise Unavailable("containerd's gRPC stubs are not generated: run `python -m labkit.api.protos`")
    return importlib.import_module(f"labkit._generated.containerd.{name.replace('/', '.')}")


if __name__ == "__main__":
    print(generate(force="--force" in sys.argv[1:]))
