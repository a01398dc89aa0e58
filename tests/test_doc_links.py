"""Every relative link in the Markdown documentation names a file that exists, and every
``#anchor`` a heading of that file (GitHub's heading slugs)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def heading_slugs(text: str) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped,
    spaces to hyphens, a repeated slug numbered -1, -2, ..."""
    slugs: set[str] = set()
    for line in FENCE.sub("", text).splitlines():
        if not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        candidate, count = slug, 0
        while candidate in slugs:
            count += 1
            candidate = f"{slug}-{count}"
        slugs.add(candidate)
    return slugs


@functools.cache
def file_slugs(path: Path) -> set[str]:
    return heading_slugs(path.read_text(encoding="utf-8"))


def relative_links(doc: Path) -> list[str]:
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def test_heading_slugs_follow_github():
    text = "# Speed and whole photos\n## Memory budget (`deblur`)\n## Speed\n## Speed\n"
    assert heading_slugs(text) == {
        "speed-and-whole-photos",
        "memory-budget-deblur",
        "speed",
        "speed-1",
    }


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    broken = []
    for target in relative_links(doc):
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md":
            if anchor not in file_slugs(file):
                broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{doc.name}: {broken}"
