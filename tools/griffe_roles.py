"""A Griffe extension (``mkdocs.yml``): Sphinx roles in docstrings become API links.

The docstrings cross-reference in reST (``:class:`HMACAuthMethod```,
``:meth:`from_url```, ``:class:`~hmac_asgi.schemes.Verified```), which ``help()`` and
IDEs show as they are. On the site each becomes a link to the name's entry in the API
reference when that entry exists (an exported name, or a documented public member of one),
otherwise plain code; so a strict build never meets a reference it cannot resolve.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|meth|func|attr|mod|exc|data|obj):`(~?)\.?([\w.]+)`")
PACKAGE = "hmac_asgi"


def _documented(obj: Any) -> bool:
    try:
        return bool(obj.docstring) and not obj.name.startswith("_")
    except griffe.AliasResolutionError:
        return False


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != PACKAGE:
            return
        exported = set(pkg.exports or ())
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = ROLE.sub(
                    lambda m, o=obj: self._link(m, o, pkg, exported), obj.docstring.value
                )

    def _link(
        self, match: re.Match[str], owner: Any, pkg: griffe.Module, exported: set[str]
    ) -> str:
        short, target = match.group(1) == "~", match.group(2)
        shown = target.rsplit(".", 1)[-1] if short else target
        path = self._resolve(target, owner, pkg, exported)
        return f"[`{shown}`][{path}]" if path else f"`{shown}`"

    def _resolve(
        self, target: str, owner: Any, pkg: griffe.Module, exported: set[str]
    ) -> str | None:
        parts = target.split(".")
        if parts[0] == PACKAGE:  # a full path: keep what follows the exported name in it
            for index, part in enumerate(parts):
                if part in exported:
                    parts = parts[index:]
                    break
            else:
                return None
        if parts[0] not in exported:  # a member of the class the docstring belongs to
            cls = owner if owner.is_class else owner.parent
            if cls is None or not cls.is_class or cls.name not in exported:
                return None
            parts = [cls.name, *parts]
        obj: Any = pkg
        for part in parts:
            try:
                obj = obj.members[part]
            except (KeyError, griffe.AliasResolutionError):
                return None
        if len(parts) > 1 and not _documented(obj):  # a member not shown in the reference
            return None
        return ".".join([PACKAGE, *parts])


def _walk(obj: Any) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)
