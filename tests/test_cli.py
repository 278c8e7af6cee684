"""The ``hmac-asgi`` command line: what it prints must pass the middleware."""

from __future__ import annotations

import base64
import io
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from _asgi import echo_app, serve
from _signing import CLIENT_ID, SECRET

from hmac_asgi import HMACMiddleware
from hmac_asgi._cli import main

VECTORS = json.loads((Path(__file__).parent / "data" / "destiny-signatures.json").read_text())
SIGN = ["sign", "--secret-env", "HMAC_SECRET", "--client-id", str(CLIENT_ID)]
BINARY = bytes(range(256)) * 8 + b"\r\n\x00 end"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMAC_SECRET", SECRET)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def parse_headers(out: str) -> dict[str, str]:
    lines = out.splitlines()
    assert len(lines) == 3, out
    return dict(line.split(": ", 1) for line in lines)


async def post_through_middleware(headers: dict[str, str], body: bytes) -> httpx.Response:
    app = HMACMiddleware(echo_app, secret_key=SECRET)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        return await client.post("http://test/", content=body, headers=headers)


def check_verified(response: httpx.Response, body: bytes) -> None:
    assert response.status_code == 200, response.text
    head, _, echoed = response.content.partition(b"\n")
    assert json.loads(head) == {"client_id": str(CLIENT_ID), "body_len": len(body)}
    assert echoed == body


@pytest.mark.anyio
@pytest.mark.parametrize("text", ["", '{"robot": "result", "é": 1}'], ids=["empty", "json"])
async def test_sign_literal_data(capsys: pytest.CaptureFixture[str], text: str) -> None:
    status, out, err = run(capsys, *SIGN, "--data", text)
    assert (status, err) == (0, "")
    headers = parse_headers(out)
    assert list(headers) == ["Authorization", "X-Client-Id", "X-Request-Timestamp"]
    check_verified(await post_through_middleware(headers, text.encode()), text.encode())
    tampered = await post_through_middleware(headers, text.encode() + b" ")
    assert tampered.status_code == 401


@pytest.mark.anyio
async def test_sign_data_from_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(BINARY)
    status, out, _ = run(capsys, *SIGN, "--data", f"@{path}")
    assert status == 0
    check_verified(await post_through_middleware(parse_headers(out), BINARY), BINARY)


@pytest.mark.anyio
@pytest.mark.parametrize("dash", ["-", "@-"])
async def test_sign_data_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dash: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BINARY)))
    status, out, _ = run(capsys, *SIGN, "--data", dash)
    assert status == 0
    check_verified(await post_through_middleware(parse_headers(out), BINARY), BINARY)


@pytest.mark.parametrize("case", VECTORS["cases"][:12], ids=lambda case: case["name"])
def test_sign_matches_destiny_vectors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    case: dict[str, str],
) -> None:
    monkeypatch.setenv("VECTOR_SECRET", case["secret_key"])
    path = tmp_path / "body"
    path.write_bytes(base64.b64decode(case["body_base64"]))
    argv = ["sign", "--secret-env", "VECTOR_SECRET", "--client-id", case["client_id"]]
    status, out, _ = run(
        capsys, *argv, "--data", f"@{path}", "--timestamp", case["timestamp_header"]
    )
    assert status == 0
    assert parse_headers(out) == {
        "Authorization": f"Signature {case['signature']}",
        "X-Client-Id": case["client_id"],
        "X-Request-Timestamp": case["timestamp_header"],
    }


def curl_words(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    status, out, err = run(capsys, *SIGN, *argv)
    assert (status, err) == (0, "")
    assert out.count("\n") == 1  # one ready-to-paste line
    return shlex.split(out)


def header_values(words: list[str]) -> dict[str, str]:
    pairs = [words[i + 1] for i, word in enumerate(words) if word == "-H"]
    return dict(pair.split(": ", 1) for pair in pairs)


def test_curl_with_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "it's a body.bin"  # needs quoting
    path.write_bytes(BINARY)
    words = curl_words(capsys, "--data", f"@{path}", "--curl", "http://h/x?a=1&b=2")
    assert words[:3] == ["curl", "-X", "POST"]
    assert words[-3:] == ["--data-binary", f"@{path}", "http://h/x?a=1&b=2"]
    headers = header_values(words)
    assert set(headers) == {"Authorization", "X-Client-Id", "X-Request-Timestamp"}
    assert headers["Authorization"].startswith("Signature ")


def test_curl_literal_and_method(capsys: pytest.CaptureFixture[str]) -> None:
    words = curl_words(
        capsys, "--data", "a 'quoted' $body", "--method", "put", "--curl", "http://h/"
    )
    assert words[:3] == ["curl", "-X", "PUT"]
    assert words[-3:] == ["--data-binary", "a 'quoted' $body", "http://h/"]
    assert curl_words(capsys, "--curl", "http://h/")[:3] == ["curl", "-X", "GET"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl here")
@pytest.mark.parametrize("data", ["file", "literal", "none"])
def test_curl_command_really_passes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: str
) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(BINARY)
    body, argv = {
        "file": (BINARY, ["--data", f"@{path}"]),
        "literal": (b'{"a": "b c"}', ["--data", '{"a": "b c"}']),
        "none": (b"", []),
    }[data]
    with serve(HMACMiddleware(echo_app, secret_key=SECRET), lifespan="off") as url:
        words = curl_words(capsys, *argv, "--curl", f"{url}/echo?x=1")
        done = subprocess.run([*words, "-sS", "-i"], capture_output=True, timeout=30, check=True)
    head, _, payload = done.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), done.stdout[:300]
    assert payload.partition(b"\n")[2] == body


def test_curl_refuses_binary_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BINARY)))
    status, out, err = run(capsys, *SIGN, "--data", "-", "--curl", "http://h/")
    assert (status, out) == (1, "")
    assert "--data @FILE" in err


BAD_ARGS: list[tuple[list[str], int, str]] = [
    ([], 2, "required: COMMAND"),
    (["frobnicate"], 2, "invalid choice"),
    (["sign", "--client-id", str(CLIENT_ID)], 2, "--secret-env"),
    (["sign", "--secret-env", "HMAC_SECRET"], 2, "--client-id"),
    (["sign", "--secret-env", "NOT_SET_ANYWHERE", "--client-id", str(CLIENT_ID)], 1, "not set"),
    (["sign", "--secret-env", "EMPTY_SECRET", "--client-id", str(CLIENT_ID)], 1, "or empty"),
    ([*SIGN[:4], "not-a-uuid"], 2, "client_id must be a UUID"),
    ([*SIGN[:4], "6234ddc9-6b49-1e45-9c0f-e91d2c381222"], 2, "version 4 or 7"),
    ([*SIGN, "--timestamp", "nan"], 2, "--timestamp"),
    ([*SIGN, "--timestamp", "1e9"], 2, "--timestamp"),
    ([*SIGN, "--data", "@/no/such/file"], 1, "cannot read the --data file"),  # path not echoed
]


@pytest.mark.parametrize(("argv", "code", "message"), BAD_ARGS)
def test_errors_go_to_stderr(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.setenv("EMPTY_SECRET", "")
    status, out, err = run(capsys, *argv)
    assert (status, out) == (code, "")
    assert message in err
    assert "Traceback" not in err
    assert SECRET not in err


def test_keygen_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "keygen")
    assert status == 0
    assert len(base64.urlsafe_b64decode(out.strip() + "=")) == 32


def console_script() -> str:
    found = shutil.which("hmac-asgi", path=str(Path(sys.executable).parent)) or shutil.which(
        "hmac-asgi"
    )
    assert found is not None, "the hmac-asgi console script is not installed"
    return found


def run_script(*argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), *argv], capture_output=True, text=True, timeout=30, **kwargs
    )


def test_installed_console_script_keygen() -> None:
    first, second = run_script("keygen"), run_script("keygen")
    assert (first.returncode, first.stderr) == (0, "")
    secrets = [first.stdout.strip(), second.stdout.strip()]
    assert [len(base64.urlsafe_b64decode(s + "=")) for s in secrets] == [32, 32]
    assert secrets[0] != secrets[1]
    refused = run_script("sign")
    assert refused.returncode == 2
    assert "required" in refused.stderr
    assert "Traceback" not in refused.stderr
