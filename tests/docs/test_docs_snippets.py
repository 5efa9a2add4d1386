"""Every code block in the guides marked ``<!-- runnable -->`` runs offline and exits 0.

The convention: an HTML comment ``<!-- runnable -->`` on the line(s) right before a
```` ```python ```` fence. The block runs as a script in a fresh interpreter, in an empty
working directory, with provider credentials removed from the environment, so a block
that silently needs the network or a key fails here instead of in a reader's terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MARK = "<!-- runnable -->"
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
SECRETS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def extract_runnable(text: str, page: str) -> list[Block]:
    """The runnable python blocks of one markdown page; a misplaced marker is an error."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != MARK:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        m = FENCE.match(lines[j]) if j < len(lines) else None
        if m is None or m.group("lang") not in ("python", "py"):
            raise ValueError(f"{page}:{i + 1}: {MARK} must be followed by a ```python block")
        indent, fence = m.group("indent"), m.group("fence")
        body: list[str] = []
        k = j + 1
        while k < len(lines) and not lines[k].strip().startswith(fence):
            body.append(lines[k][len(indent) :] if lines[k].startswith(indent) else lines[k])
            k += 1
        if k == len(lines):
            raise ValueError(f"{page}:{j + 1}: unclosed code block")
        blocks.append(Block(page, j + 1, "\n".join(body) + "\n"))
        i = k + 1
    return blocks


def all_blocks() -> list[Block]:
    blocks: list[Block] = []
    for path in sorted(DOCS.rglob("*.md")):
        rel = path.relative_to(DOCS).as_posix()
        if rel.startswith("_"):
            continue
        blocks.extend(extract_runnable(path.read_text(encoding="utf-8"), rel))
    return blocks


BLOCKS = all_blocks()


def test_extractor_finds_marked_blocks_only() -> None:
    text = (
        "intro\n\n<!-- runnable -->\n```python\nprint(1)\n```\n\n"
        "```python\nprint('not marked')\n```\n"
        "<!-- runnable -->\n\n```py\nx = 2\n```\n"
    )
    blocks = extract_runnable(text, "page.md")
    assert [b.code for b in blocks] == ["print(1)\n", "x = 2\n"]
    assert [b.line for b in blocks] == [4, 13]


def test_extractor_rejects_a_marker_without_a_python_block() -> None:
    with pytest.raises(ValueError, match=r"page.md:1: .* must be followed"):
        extract_runnable("<!-- runnable -->\n```bash\nls\n```\n", "page.md")
    with pytest.raises(ValueError, match="unclosed"):
        extract_runnable("<!-- runnable -->\n```python\nprint(1)\n", "page.md")


def test_the_guides_have_runnable_blocks() -> None:
    pages = {b.page for b in BLOCKS}
    assert len(BLOCKS) >= 5, pages
    assert {"quickstart.md", "tools.md", "events.md"} <= pages


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_runnable_block(block: Block, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    script = tmp_path / "snippet.py"
    script.write_text(block.code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, (
        f"{block.id} failed:\n--- code ---\n{block.code}\n--- stdout ---\n{proc.stdout}"
        f"\n--- stderr ---\n{proc.stderr}"
    )
