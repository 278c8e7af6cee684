"""``hmac_openapi``: the signature headers in a FastAPI or Litestar app's OpenAPI document.

What a format's headers are and how to sign them is its scheme's to say
(``scheme.openapi()``); this module only places that in the document: one
``apiKey`` security scheme per header, the headers of one format ANDed in one
security requirement, several formats ORed, on every operation the middleware
protects. Neither FastAPI nor Litestar is imported unless the app is one of them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._checks import type_name
from .schemes import OpenAPIDescription, Scheme, destiny

if TYPE_CHECKING:
    from fastapi import FastAPI
    from litestar import Litestar

__all__ = ["hmac_openapi"]

# The operations of an OpenAPI path item.
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

Requirement = dict[str, list[str]]
SecuritySchemes = dict[str, dict[str, str]]


def hmac_openapi(
    app: FastAPI | Litestar,
    *,
    schemes: Sequence[Scheme[Any]] | None = None,
    exclude_paths: Iterable[str] | None = None,
) -> None:
    """Show the signature headers of ``HMACMiddleware`` in the app's OpenAPI document.

    Call it once, after ``app.add_middleware(HMACMiddleware, ...)`` (FastAPI) or
    ``Litestar(..., middleware=[DefineMiddleware(HMACMiddleware, ...)])``: it reads
    the middleware's ``schemes`` (or the destiny-sdk shorthands ``secret_key`` /
    ``client_secrets`` / ``secret_lookup``) and ``exclude_paths`` from there. When
    the middleware wraps the app from outside (``HMACMiddleware(app, ...)``), give
    them here instead; what is given here wins over what the app holds.

    The document then holds, under ``components.securitySchemes``, one ``apiKey``
    scheme in ``header`` per signature header, named ``<format>.<header>``
    (``destiny.X-Client-Id``), the first of each format describing how to sign;
    and every operation whose path is not in ``exclude_paths`` requires them: the
    headers of one format together, any one of the formats. An operation that
    already had security requirements (its own, or the document's) needs the
    signature as well. Paths are compared as the document writes them
    (``/items/{id}`` is never excluded); behind a root path give ``exclude_paths``
    here as the document spells them. Secrets are never read.

    FastAPI: ``app.openapi`` is wrapped, as FastAPI's documentation does it.
    Litestar: the document ``app.openapi_schema`` is completed in place now, and
    again at startup (a route registered after this call rebuilds it).

    The docs themselves (``/docs`` and ``/openapi.json``; Litestar's ``/schema``,
    ``/schema/openapi.json``, ``/schema/swagger``) need ``exclude_paths`` on the
    middleware to be reachable without a signature.

    Raises:
        TypeError: ``app`` is not a FastAPI or Litestar app, or an argument of the
            wrong type.
        ValueError: no ``HMACMiddleware`` in the app and no ``schemes`` given, the
            middleware more than once, or a Litestar app without OpenAPI.
    """
    kind = _kind(app)
    found = None
    if schemes is None or exclude_paths is None:  # what is not given, the app must hold
        found = _middleware_kwargs(app, kind)
    if schemes is None:
        if found is None:
            raise ValueError(
                "the app has no HMACMiddleware among its middleware: pass schemes=[...]"
                " (and exclude_paths=...) as given to the middleware that wraps it"
            )
        descriptions = _descriptions(found.get("schemes"))
    else:
        descriptions = _descriptions(schemes, given=True)
    if exclude_paths is None:
        exclude_paths = () if found is None else found.get("exclude_paths", ())
    excluded = _paths(exclude_paths)
    security_schemes, requirements = _security(descriptions)
    if kind == "fastapi":
        _fastapi(app, security_schemes, requirements, excluded)
    else:
        _litestar(app, security_schemes, requirements, excluded)


def _kind(app: object) -> str:
    # A framework that was never imported has no app here: nothing to import either.
    fastapi = sys.modules.get("fastapi")
    if fastapi is not None and isinstance(app, fastapi.FastAPI):
        return "fastapi"
    litestar = sys.modules.get("litestar")
    if litestar is not None and isinstance(app, litestar.Litestar):
        return "litestar"
    raise TypeError(f"hmac_openapi takes a FastAPI or Litestar app, not {type_name(app)}")


def _middleware_kwargs(app: Any, kind: str) -> Mapping[str, Any] | None:
    """The keyword arguments the app's ``HMACMiddleware`` is given, if it has one."""
    from ._middleware import HMACMiddleware

    if kind == "fastapi":  # starlette.middleware.Middleware(cls, *args, **kwargs)
        entries = [(entry.cls, entry.kwargs) for entry in app.user_middleware]
    else:  # litestar.middleware.DefineMiddleware(middleware, *args, **kwargs)
        entries = [
            (getattr(entry, "middleware", None), getattr(entry, "kwargs", None))
            for entry in app.middleware
        ]
    found = [
        kwargs
        for cls, kwargs in entries
        if isinstance(cls, type) and issubclass(cls, HMACMiddleware) and kwargs is not None
    ]
    if len(found) > 1:
        raise ValueError(
            "the app has HMACMiddleware more than once: pass schemes= and exclude_paths="
            " for the one the document should show"
        )
    return found[0] if found else None


def _descriptions(schemes: object, *, given: bool = False) -> list[OpenAPIDescription]:
    if schemes is None and not given:  # the destiny-sdk shorthands
        return [destiny.OPENAPI]
    if isinstance(schemes, (str, bytes)) or not isinstance(schemes, Sequence) or not schemes:
        raise TypeError("schemes takes a non-empty list, e.g. [DestinyScheme(secret_key=...)]")
    descriptions = []
    for scheme in schemes:
        describe = getattr(scheme, "openapi", None)
        if not callable(describe):
            raise TypeError(f"schemes holds {type_name(scheme)}, which has no openapi()")
        descriptions.append(describe())
    return descriptions


def _paths(exclude_paths: object) -> frozenset[str]:
    if isinstance(exclude_paths, (str, bytes)) or not isinstance(exclude_paths, Iterable):
        raise TypeError('exclude_paths takes a collection of paths, e.g. ("/health",)')
    if isinstance(exclude_paths, Iterator):  # reading it would empty it for the middleware
        raise TypeError("exclude_paths must be a collection (a tuple, a list), not an iterator")
    paths = frozenset(exclude_paths)
    if not all(isinstance(path, str) for path in paths):
        raise TypeError("exclude_paths holds something that is not a str path")
    return paths


def _security(descriptions: list[OpenAPIDescription]) -> tuple[SecuritySchemes, list[Requirement]]:
    """One apiKey scheme per header; one requirement per format (its headers ANDed)."""
    schemes: SecuritySchemes = {}
    requirements: list[Requirement] = []
    for description in descriptions:
        requirement: Requirement = {}
        first = ""
        for header, line in description.headers:
            name = f"{description.name}.{header}"
            if not first:
                first = name
                text = f"{line}\n\n{description.recipe}"
            else:
                text = (
                    f"{line}\n\nSent with the other {description.name} headers;"
                    f" how to sign is under `{first}`."
                )
            schemes[name] = {"type": "apiKey", "in": "header", "name": header, "description": text}
            requirement[name] = []
        requirements.append(requirement)
    return schemes, requirements


def _secured(existing: list[Requirement] | None, ours: list[Requirement]) -> list[Requirement]:
    """An operation's requirements once it also needs a signature in one of our formats."""
    names = {name for requirement in ours for name in requirement}
    if existing and any(name in names for requirement in existing for name in requirement):
        return existing  # done already
    if not existing:  # none, or [] (public): the middleware still wants a signature
        return [dict(requirement) for requirement in ours]
    # (A or B) and (ours1 or ours2): every pairing, each ANDing its two.
    return [{**theirs, **mine} for theirs in existing for mine in ours]


def _complete(
    document: dict[str, Any],
    schemes: SecuritySchemes,
    requirements: list[Requirement],
    excluded: frozenset[str],
) -> None:
    """Add the security schemes and requirements to an OpenAPI document as JSON data."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(
        {name: dict(scheme) for name, scheme in schemes.items()}
    )
    default = document.get("security")
    for path, item in (document.get("paths") or {}).items():
        if path in excluded or not isinstance(item, dict):
            continue
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                operation["security"] = _secured(operation.get("security", default), requirements)


def _fastapi(
    app: Any, schemes: SecuritySchemes, requirements: list[Requirement], excluded: frozenset[str]
) -> None:
    """FastAPI's documented override: ``app.openapi``, wrapped (it caches its document)."""
    generate = app.openapi
    completed: list[dict[str, Any]] = []  # the document last completed

    def openapi() -> dict[str, Any]:
        document: dict[str, Any] = generate()
        if not completed or completed[0] is not document:
            _complete(document, schemes, requirements, excluded)
            completed[:] = [document]
        return document

    app.openapi = openapi


def _litestar(
    app: Any, schemes: SecuritySchemes, requirements: list[Requirement], excluded: frozenset[str]
) -> None:
    """Litestar's document, ``app.openapi_schema``: completed in place, now and at startup."""
    from litestar.openapi.spec import SecurityScheme

    if app.openapi_config is None:
        raise ValueError("this Litestar app has no OpenAPI document (openapi_config=None)")

    def complete() -> None:
        document = app.openapi_schema  # its components are never None: Litestar fills them
        security_schemes = dict(document.components.security_schemes or {})
        for name, scheme in schemes.items():
            security_schemes[name] = SecurityScheme(
                type="apiKey",
                name=scheme["name"],
                security_scheme_in="header",
                description=scheme["description"],
            )
        document.components.security_schemes = security_schemes
        for path, item in (document.paths or {}).items():
            if path in excluded:
                continue
            for method in _METHODS:
                operation = getattr(item, method, None)
                if operation is not None:
                    existing = operation.security
                    if existing is None:
                        existing = document.security
                    operation.security = _secured(existing, requirements)

    complete()
    app.on_startup.append(complete)
