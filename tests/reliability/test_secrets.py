"""Secrets: a registry password, its Basic encoding and the tokens a pull obtains are never written down.

Pulls with credentials go through the real Basic and Bearer registries of tests/remotes
(htpasswd; a token server of our own, whose every issued token is recorded here). Then
everything a learner or another user of the machine could read is searched for them:
the event journal and every file under the lab root, the transcript, what the command
line prints, error messages, the committed notebooks' outputs — and, sampled all along,
the command line of every process on the machine.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from remotes.conftest import PASSWORD, USER, TokenServer

import labkit
from labkit.remotes import Transcript
from labkit.supervisor import Supervisor

pytestmark = [pytest.mark.tool("docker-registry", "openssl")]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture
def tokens(token_server: TokenServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the token server issues during the test."""
    issued: list[str] = []
    original = token_server.token

    def token(account: str, scopes: list[str]) -> str:
        issued.append(original(account, scopes))
        return issued[-1]

    monkeypatch.setattr(token_server, "token", token)
    return issued


def secrets(tokens: list[str]) -> list[str]:
    """The password, as typed and as HTTP Basic encodes it, and each token (and its signature alone)."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [PASSWORD, basic, *tokens, *(token.rsplit(".", 1)[1] for token in tokens)]


def assert_nowhere(places: dict[str, str | bytes], found_in: list[str]) -> None:
    leaks = [(where, secret[:12]) for where, text in places.items() for secret in found_in
             if (secret.encode() if isinstance(text, bytes) else secret) in text]
    assert leaks == [], f"secrets found: {leaks}"


def files(root: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in root.rglob("*") if path.is_file()}


@contextmanager
def command_lines() -> Iterator[dict[str, bytes]]:
    """Every process's command line, sampled every few milliseconds while the block runs."""
    seen: dict[str, bytes] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for proc in Path("/proc").iterdir():
                try:
                    seen[f"/proc/{proc.name}/cmdline"] = seen.get(f"/proc/{proc.name}/cmdline", b"") + b" " + \
                        (proc / "cmdline").read_bytes()
                except OSError:
                    continue
            done.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join()


def test_pulls_with_credentials_leave_no_secret_behind(basic_registry: str, token_registry: str, tokens: list[str],
                                                       lab_root: Path, capfd: pytest.CaptureFixture[str]) -> None:
    transcript = Transcript()
    publish = Supervisor().publish
    with command_lines() as processes:
        for registry in (basic_registry, token_registry):
            labkit.pull(f"{registry}/private/small", plain_http=True, user=f"{USER}:{PASSWORD}",
                        transcript=transcript, publish=publish)
    refusals = []
    for registry in (basic_registry, token_registry):
        with pytest.raises(labkit.PermissionDenied) as refused:
            labkit.pull(f"{registry}/private/small", plain_http=True, user=f"{USER}:{PASSWORD}-not")
        refusals.append(str(refused.value))
    assert tokens and "/images/create" in (lab_root / "events.jsonl").read_text()
    assert "Bearer <redacted>" in str(transcript) and "Basic <redacted>" in str(transcript)
    output = capfd.readouterr()
    assert_nowhere({**files(lab_root), "transcript": str(transcript), "stdout": output.out, "stderr": output.err,
                    **{f"refusal {n}": text for n, text in enumerate(refusals)}, **processes}, secrets(tokens))


def test_the_command_line_asks_for_the_password_instead(basic_registry: str, token_registry: str,
                                                        tokens: list[str], lab_root: Path) -> None:
    """``--user USER`` reads the password from stdin (a terminal would be asked): argv never holds it."""
    outputs = {}
    with command_lines() as processes:
        for registry in (basic_registry, token_registry):
            pull = [sys.executable, "-m", "labkit", "pull", "--plain-http", "--user", USER, f"{registry}/private/small"]
            result = subprocess.run(pull, input=PASSWORD + "\n", capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
            outputs[f"{registry} stdout"], outputs[f"{registry} stderr"] = result.stdout, result.stderr
    listing = subprocess.run([sys.executable, "-m", "labkit", "images", "ls"], capture_output=True, text=True).stdout
    assert listing.count("private/small") == 2 and tokens
    assert any(b"private/small" in cmdline for cmdline in processes.values())  # the sampler did see the pulls
    assert_nowhere({**files(lab_root), **outputs, "images ls": listing, **processes}, secrets(tokens))


#: what would betray a credential in a stored output: an Authorization value, a JWT, a token in JSON
_CREDENTIAL = re.compile(r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?:basic|bearer)\s+(?!<redacted>)\S+"
                         r"|eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+"
                         r"|\"(?:access_)?token\"\s*:\s*\"[^\"]{8,}\"")


def test_no_notebook_output_shows_a_credential() -> None:
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
            for output in cell.get("outputs", []):
                text = "".join(output.get("text", "")) + "".join(
                    "".join(value) for kind, value in output.get("data", {}).items() if kind.startswith("text/"))
                assert not _CREDENTIAL.search(text) and PASSWORD not in text, f"{notebook.name} cell {number}"
