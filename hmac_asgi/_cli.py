"""``hmac-asgi``: sign a request by hand (headers or a curl command), or make a secret.

    hmac-asgi sign --secret-env VAR --client-id ID [--data @file|-|text]
                   [--timestamp TS] [--method M] [--curl URL]
    hmac-asgi sign --scheme rfc9421 --secret-env VAR --key-id KEYID --url URL [...]
    hmac-asgi sign --scheme standard-webhooks --secret-env VAR [...]
    hmac-asgi keygen

The secret is read from the named environment variable only: a secret on the
command line would show in ``ps`` and in the shell history. And nothing a user
typed is printed back in an error (a secret pasted into the wrong place would
end up on screen, in CI logs): errors name the argument, never its value.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shlex
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

import httpx

from ._client import SCHEMES, signer_for
from .schemes.destiny import is_timestamp

__all__ = ["main"]


class _Failure(Exception):
    """A runtime error for the user: printed to stderr, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, minus what would echo a user's input: no abbreviated options (``--secret``
    would become ``--secret-env``), and no value quoted back in an error."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(allow_abbrev=False, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message = "unrecognized arguments (not shown, in case one is a secret)"
        else:  # "invalid choice: 'x'", "invalid int value: 'x'": the first quote is theirs
            message = re.sub(r"'[^']*'", "(value not shown)", message, count=1)
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hmac-asgi",
        description="HMAC-SHA256 request signing: destiny-sdk, RFC 9421, Standard Webhooks.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sign = commands.add_parser("sign", help="print the signature headers for a request body")
    sign.add_argument(
        "--secret-env", required=True, metavar="VAR", help="environment variable holding the secret"
    )
    sign.add_argument(
        "--scheme", choices=SCHEMES, default="destiny", help="the wire format (default: destiny)"
    )
    sign.add_argument("--client-id", metavar="ID", help="client UUID (v4 or v7), for destiny")
    sign.add_argument("--key-id", metavar="KEYID", help="the keyid, for rfc9421")
    sign.add_argument("--url", metavar="URL", help="the request URL, signed by rfc9421")
    sign.add_argument(
        "--data",
        default="",
        metavar="BODY",
        help="the body: @FILE (exact bytes), - (standard input), or the text itself",
    )
    sign.add_argument(
        "--timestamp",
        metavar="TS",
        help="seconds since the epoch (default: now), e.g. 1732838400.5",
    )
    sign.add_argument(
        "--method", help="HTTP method for --curl (default: POST with a body, else GET)"
    )
    sign.add_argument("--curl", metavar="URL", help="print a ready-to-paste curl command instead")
    sign.add_argument(
        "--explain",
        action="store_true",
        help="print, as JSON, what was signed (what the server's explain_failures reports)",
    )
    commands.add_parser("keygen", help="print a new random secret (32 bytes, URL-safe base64)")
    return parser


def _body(data: str) -> tuple[bytes, str | None]:
    """The body bytes, and the file they came from (for ``curl --data-binary @file``)."""
    if data in ("-", "@-"):
        return sys.stdin.buffer.read(), None
    if data.startswith("@"):
        try:
            with open(data[1:], "rb") as file:
                return file.read(), data[1:]
        except OSError as exc:
            raise _Failure(f"cannot read the --data file: {exc.strerror}") from exc
    return os.fsencode(data), None  # the exact bytes the shell passed


def _curl(url: str, method: str, headers: dict[str, str], body: bytes, path: str | None) -> str:
    words = ["curl", "-X", method]
    for name, value in headers.items():
        words += ["-H", f"{name}: {value}"]
    if path is not None:
        words += ["--data-binary", f"@{path}"]
    elif body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = "\0"
        if "\0" in text or text.startswith("@"):
            raise _Failure("this body cannot be given on a command line: use --data @FILE")
        words += ["--data-binary", text]
    return shlex.join([*words, url])


def _sign(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    secret = os.environ.get(args.secret_env)
    if not secret:
        raise _Failure("the environment variable --secret-env names is not set or empty")
    # The same rule the middleware applies to X-Request-Timestamp.
    if args.timestamp is not None and not is_timestamp(args.timestamp):
        parser.error("--timestamp must be a plain decimal like 1732838400.5")
    if args.url is not None and args.curl is not None:
        parser.error("give the URL once: --url, or --curl (which prints the command for it)")
    if args.scheme == "destiny" and args.client_id is None:
        parser.error("the destiny scheme needs --client-id")
    if args.scheme == "rfc9421" and (args.key_id is None or (args.url or args.curl) is None):
        parser.error("the rfc9421 scheme needs --key-id and --url (or --curl): both are signed")
    try:
        signer = signer_for(args.scheme, secret, args.client_id, args.key_id)
    except (TypeError, ValueError) as exc:
        parser.error(f"--client-id: {exc}" if args.scheme == "destiny" else str(exc))
    body, path = _body(args.data)
    method = (args.method or ("POST" if body or path else "GET")).upper()
    try:
        request = httpx.Request(method, args.url or args.curl or "http://localhost/", content=body)
    except (httpx.InvalidURL, ValueError) as exc:
        raise _Failure("--url/--curl is not a URL httpx can send to, or --method a method") from exc
    headers = signer.headers(request, time.time() if args.timestamp is None else args.timestamp)
    if args.explain:
        for name, value in headers.items():
            request.headers[name] = value
        explained = {
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            **signer.explain(request),
        }
        print(json.dumps(explained, indent=2))
    elif args.curl is None:
        print("\n".join(f"{name}: {value}" for name, value in headers.items()))
    else:
        print(_curl(args.curl, method, headers, body, path))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 usage error, 1 other failure)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage error (or --help)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "keygen":
            print(secrets.token_urlsafe(32))
        else:
            _sign(parser, args)
    except SystemExit as exc:  # parser.error() in _sign
        return exc.code if isinstance(exc.code, int) else 2
    except _Failure as exc:
        print(f"hmac-asgi: error: {exc}", file=sys.stderr)
        return 1
    return 0
