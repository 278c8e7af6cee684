"""MkDocs hooks (``mkdocs.yml``): ship the repository files the pages link to.

A page links to a file outside ``docs/`` the way GitHub reads it, relatively
(``[results](../benchmarks/results.md)``, ``![plot](../benchmarks/results.png)``,
``[webhook_receiver.py](../examples/webhook_receiver.py)``). MkDocs only publishes what is
in ``docs/`` and, strict, refuses such a link. These hooks add each linked file to the
site under ``repo/<its path>`` (a Markdown file becomes a page, out of the navigation, and
what it links to comes along) and point the link there. Nothing is copied into ``docs/``,
so ``make bench`` keeps the published results current.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page

# [text](target) and ![alt](target); a target with a scheme or only an anchor is left alone.
LINK = re.compile(r"(!?\[[^\]\n]*\]\()([^)\s#]+)((?:#[^)\s]*)?\))")
PREFIX = "repo"


def _roots(config: Any) -> tuple[Path, Path]:
    return Path(config.config_file_path).resolve().parent, Path(config.docs_dir).resolve()


def _outside(target: str, where: Path, root: Path, docs: Path) -> Path | None:
    """The repository file a link from ``where`` names, when it is outside ``docs/``."""
    if ":" in target or target.startswith("/"):
        return None
    path = (where / target).resolve()
    if docs in path.parents or not path.is_file() or root not in path.parents:
        return None
    return path


def on_files(files: Files, config: Any) -> Files:
    root, docs = _roots(config)
    pending = [Path(f.abs_src_path) for f in files.documentation_pages() if f.abs_src_path]
    seen: set[Path] = set()
    while pending:
        page = pending.pop()
        for match in LINK.finditer(page.read_text("utf-8")):
            path = _outside(match.group(2), page.parent, root, docs)
            if path is None or path in seen:
                continue
            seen.add(path)
            uri = f"{PREFIX}/{path.relative_to(root).as_posix()}"
            files.append(
                File.generated(
                    config, uri, abs_src_path=str(path), inclusion=InclusionLevel.NOT_IN_NAV
                )
            )
            if path.suffix == ".md":
                pending.append(path)
    return files


def on_page_markdown(markdown: str, page: Page, config: Any, files: Files) -> str:
    root, docs = _roots(config)
    if page.file.abs_src_path is None:
        return markdown
    real = Path(page.file.abs_src_path).resolve().parent
    virtual = (docs / page.file.src_uri).parent

    def point(match: re.Match[str]) -> str:
        path = _outside(match.group(2), real, root, docs)
        if path is None:
            return match.group(0)
        published = docs / PREFIX / path.relative_to(root)
        target = Path(os.path.relpath(published, virtual)).as_posix()
        return f"{match.group(1)}{target}{match.group(3)}"

    return LINK.sub(point, markdown)
