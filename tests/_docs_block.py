"""Run one Python code block of the documentation (``tests/test_docs_code.py`` starts this).

``python tests/_docs_block.py NAME < block`` runs the block read from stdin, under NAME
(``docs/server.md:42``) in its tracebacks, in a module of its own, and then:

- top-level ``await`` is allowed, as in ``python -m asyncio``;
- no socket may connect anywhere, and httpx's own transports (``httpx.HTTPTransport``,
  ``httpx.AsyncHTTPTransport``: what ``HMACSigningTransport`` wraps by default) answer from
  an in-process server: ``HMACMiddleware`` accepting the three formats with the secrets of
  the variables named in ``DOCS_SECRET_VARIABLES``. Every signed request that reaches it
  must be accepted;
- an ASGI app the block leaves in ``app`` or ``application`` (or makes with a
  ``create_app()`` factory) gets an unsigned ``POST /orders``, which must be refused: 401.

Everything is logged at DEBUG to stderr, which the test scans for secrets. Exit status 0
when all of it held; otherwise a message on stderr and 1 (or the block's traceback).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
import os
import socket
import sys
import threading
import types
from typing import Any

import httpx

from hmac_asgi import (
    DestinyScheme,
    HMACMiddleware,
    MessageSignatureScheme,
    StandardWebhookScheme,
)

SIGNING_HEADERS = ("authorization", "signature-input", "webhook-signature")


def refuse(self: socket.socket, address: Any, *args: Any) -> Any:
    raise OSError(f"documentation code must not use the network (connect to {address!r})")


class Network:
    """Where httpx's own transports send: a verifying server in this process."""

    def __init__(self, secrets: list[str]) -> None:
        plain = [s for s in secrets if not s.startswith("whsec_")]
        hooks = [s for s in secrets if s.startswith("whsec_")]

        async def any_key(key_id: str) -> list[str]:
            return plain

        schemes: list[Any] = [MessageSignatureScheme(key_lookup=any_key)]
        if plain:
            schemes.append(DestinyScheme(secret_key=plain))
        if hooks:
            schemes.append(StandardWebhookScheme(secrets=hooks))
        self.server = HMACMiddleware(self.echo, schemes=schemes)
        self.refused: list[str] = []
        self.count = 0

    @staticmethod
    async def echo(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        verified = scope["state"]["hmac"]
        body = json.dumps({"scheme": verified.scheme, "key_id": str(verified.key_id)})
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})

    async def send(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        content = (
            request.read()
            if not isinstance(request.stream, httpx.AsyncByteStream)
            else (await request.aread())
        )
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=content)
        response = await httpx.ASGITransport(self.server).handle_async_request(copy)
        body = await response.aread()
        signed = any(name in request.headers for name in SIGNING_HEADERS)
        if signed and response.status_code != 200:
            self.refused.append(f"{request.method} {request.url}: {response.status_code} {body!r}")
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    def send_sync(self, request: httpx.Request) -> httpx.Response:
        request.read()
        answer: list[httpx.Response] = []
        errors: list[BaseException] = []

        def run() -> None:  # the block may be inside an event loop already
            try:
                answer.append(asyncio.run(self.send(request)))
            except BaseException as exc:  # handed back to the caller's thread
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return answer[0]


def install(network: Network) -> None:
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        return network.send_sync(request)

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        return await network.send(request)

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]


def run_block(name: str, source: str) -> dict[str, Any]:
    module = types.ModuleType("docs_block")
    module.__file__ = os.path.abspath("docs_block.py")
    sys.modules["docs_block"] = module
    code = compile(source, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, module.__dict__))  # noqa: S307 - the documentation's own code
    else:
        exec(code, module.__dict__)  # noqa: S102 - the documentation's own code
    return module.__dict__


async def unsigned_post(app: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docs.test") as client:
        return await client.post("/orders", json={"sku": "A-1"})


def main() -> int:
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    name = sys.argv[1]
    names = json.loads(os.environ.get("DOCS_SECRET_VARIABLES", "[]"))
    network = Network([os.environ[n] for n in names])
    install(network)
    namespace = run_block(name, sys.stdin.read())
    problems = [f"a signed request was refused: {line}" for line in network.refused]
    app = namespace.get("app", namespace.get("application"))
    if app is None and callable(namespace.get("create_app")):
        app = namespace["create_app"]()
    if app is not None:
        response = asyncio.run(unsigned_post(app))
        if response.status_code != 401:
            problems.append(f"unsigned POST /orders got {response.status_code}, not 401")
    for problem in problems:
        print(f"{name}: {problem}", file=sys.stderr)
    print(json.dumps({"requests": network.count, "app_checked": app is not None}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
