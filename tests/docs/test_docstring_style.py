"""Docstrings use the markup mkdocstrings renders (Markdown), not Sphinx roles.

The API reference is generated from the docstrings; a ``:class:`Name``` there shows up
as a literal ``:class:`` in front of the name.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "core" / "src",
    ROOT / "providers" / "gemini" / "src",
    ROOT / "providers" / "openai" / "src",
    ROOT / "testing" / "src",
]
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|attr|mod|exc|obj|const|ref):`")


def test_no_sphinx_roles_in_the_packages() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for source in SOURCES
        for path in sorted(source.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROLE.search(line)
    ]
    assert not found, "Sphinx roles (write `Name` instead):\n" + "\n".join(found)
