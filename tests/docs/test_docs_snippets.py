"""Every Python block in the guides runs in CI, or says why it cannot.

The marker is an HTML comment on the line(s) right before a ```` ```python ```` fence:

- ``<!-- runnable -->``: the block runs as a script in a fresh interpreter, in an empty
  working directory, with provider credentials removed from the environment, so a block
  that silently needs the network or a key fails here instead of in a reader's terminal;
- ``<!-- runnable: cassette NAME [NAME...] -->``: the same, once per name, against a
  FakeGeminiServer replaying that shipped cassette: Google's SDK is pointed at it
  through the environment (``GOOGLE_GEMINI_BASE_URL``, ``SSL_CERT_FILE``, a dummy
  ``GEMINI_API_KEY``), the shipped ``question.wav`` is in the working directory, and
  every line must play;
- ``<!-- runnable: pytest -->``: the block is a test module, run by pytest in a fresh
  project (no configuration file at all);
- ``<!-- not runnable: REASON -->``: a fragment or a program that needs hardware, a key
  or a third-party package; the reason says which.
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
MARK = re.compile(
    r"^<!-- (?:(?P<run>runnable)(?:: (?P<how>cassette [\w.-]+(?: [\w.-]+)*|pytest))?"
    r"|not runnable: (?P<why>\S.*?)) -->$"
)
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
SECRETS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    how: str = "script"
    """``script``, ``pytest`` or ``cassette NAME``; ``skip`` for a block marked not runnable."""

    @property
    def id(self) -> str:
        against = f"[{self.how.split()[1]}]" if self.how.startswith("cassette ") else ""
        return f"{self.page}:{self.line}{against}"


def _fences(lines: list[str], page: str) -> list[tuple[int, int, str]]:
    """(opening line index, closing line index, language) of every fenced block."""
    found = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence = m.group("indent"), m.group("fence")
        k = i + 1
        while k < len(lines) and not lines[k].strip().startswith(fence):
            k += 1
        if k == len(lines):
            raise ValueError(f"{page}:{i + 1}: unclosed code block")
        del indent
        found.append((i, k, m.group("lang")))
        i = k + 1
    return found


def extract_blocks(text: str, page: str) -> list[Block]:
    """Every python block of one page with its marker (``how`` is None when unmarked);
    a marker that is not followed by a python block is an error."""
    lines = text.splitlines()
    blocks: list[Block] = []
    used: set[int] = set()
    for start, end, lang in _fences(lines, page):
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        mark = MARK.match(lines[j].strip()) if j >= 0 else None
        if mark is not None:
            used.add(j)
        if lang not in ("python", "py"):
            if mark is not None:
                raise ValueError(
                    f"{page}:{j + 1}: a docs marker must be followed by a ```python block"
                )
            continue
        indent = FENCE.match(lines[start]).group("indent")  # type: ignore[union-attr]
        body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[start + 1 : end]]
        how: str | None = None
        if mark is not None:
            how = "skip" if mark.group("why") else (mark.group("how") or "script")
        blocks.append(Block(page, start + 1, "\n".join(body) + "\n", how or "unmarked"))
    for n, line in enumerate(lines):
        if n not in used and line.strip().startswith(("<!-- runnable", "<!-- not runnable")):
            raise ValueError(f"{page}:{n + 1}: a docs marker must be followed by a ```python block")
    return blocks


def extract_runnable(text: str, page: str) -> list[Block]:
    """The blocks of one page that CI runs (once per cassette when it names several)."""
    runs: list[Block] = []
    for block in extract_blocks(text, page):
        if block.how.startswith("cassette "):
            names = block.how.split()[1:]
            runs += [Block(block.page, block.line, block.code, f"cassette {n}") for n in names]
        elif block.how not in ("skip", "unmarked"):
            runs.append(block)
    return runs


READMES = [
    ROOT / "README.md",
    ROOT / "core" / "README.md",
    ROOT / "providers" / "gemini" / "README.md",
    ROOT / "providers" / "openai" / "README.md",
    ROOT / "testing" / "README.md",
    ROOT / "examples" / "README.md",
]
"""The READMEs are documentation too (the packages' pages on an index): same rules."""


def _pages() -> list[tuple[str, str]]:
    pages = []
    for path in sorted(DOCS.rglob("*.md")):
        rel = path.relative_to(DOCS).as_posix()
        if not rel.startswith("_"):
            pages.append((rel, path.read_text(encoding="utf-8")))
    for path in READMES:
        pages.append((path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")))
    return pages


def all_blocks() -> list[Block]:
    blocks: list[Block] = []
    for rel, text in _pages():
        blocks.extend(extract_runnable(text, rel))
    return blocks


BLOCKS = all_blocks()


def test_extractor_finds_marked_blocks_only() -> None:
    text = (
        "intro\n\n<!-- runnable -->\n```python\nprint(1)\n```\n\n"
        "```python\nprint('not marked')\n```\n"
        "<!-- runnable -->\n\n```py\nx = 2\n```\n"
        "<!-- runnable: cassette tool_call barge_in -->\n```python\ny = 3\n```\n"
        "<!-- runnable: pytest -->\n```python\ndef test(): pass\n```\n"
        "<!-- not runnable: a fragment -->\n```python\nz()\n```\n"
    )
    blocks = extract_runnable(text, "page.md")
    assert [b.code for b in blocks] == [
        "print(1)\n",
        "x = 2\n",
        "y = 3\n",
        "y = 3\n",
        "def test(): pass\n",
    ]
    assert [b.line for b in blocks] == [4, 13, 17, 17, 21]
    assert [b.how for b in blocks] == [
        "script",
        "script",
        "cassette tool_call",
        "cassette barge_in",
        "pytest",
    ]
    every = extract_blocks(text, "page.md")
    assert [b.how for b in every if b.how in ("skip", "unmarked")] == ["unmarked", "skip"]


def test_extractor_rejects_a_marker_without_a_python_block() -> None:
    with pytest.raises(ValueError, match=r"page.md:1: .* must be followed"):
        extract_runnable("<!-- runnable -->\n```bash\nls\n```\n", "page.md")
    with pytest.raises(ValueError, match=r"page.md:1: .* must be followed"):
        extract_runnable("<!-- not runnable: why -->\ntext\n", "page.md")
    with pytest.raises(ValueError, match="unclosed"):
        extract_runnable("<!-- runnable -->\n```python\nprint(1)\n", "page.md")


def test_the_guides_have_runnable_blocks() -> None:
    pages = {b.page for b in BLOCKS}
    assert len(BLOCKS) >= 5, pages
    assert {"quickstart.md", "tools.md", "events.md", "testing.md"} <= pages
    assert {b.how for b in BLOCKS} >= {"script", "pytest", "cassette tool_call"}


def test_every_python_block_runs_or_says_why_not() -> None:
    unmarked = [
        b.id for rel, text in _pages() for b in extract_blocks(text, rel) if b.how == "unmarked"
    ]
    assert not unmarked, (
        "python blocks without <!-- runnable --> or <!-- not runnable: reason -->: "
        + ", ".join(unmarked)
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _check(block: Block, proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, (
        f"{block.id} failed:\n--- code ---\n{block.code}\n--- stdout ---\n{proc.stdout}"
        f"\n--- stderr ---\n{proc.stderr}"
    )


def _script(block: Block, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = folder / "snippet.py"
    script.write_text(block.code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _against_cassette(block: Block, folder: Path) -> None:
    """Run the block with Google's SDK pointed at a FakeGeminiServer (TLS trusted through
    SSL_CERT_FILE), in a folder holding the question the guides speak of."""
    import asyncio
    import shutil

    from realtalk_testing import FakeGeminiServer
    from realtalk_testing.cassette import QUESTION_WAV, shipped_cassette_path
    from realtalk_testing.tls import local_tls

    name = block.how.split(" ", 1)[1]
    shutil.copy(QUESTION_WAV, folder / "question.wav")
    ca = folder / "ca.pem"
    ca.write_bytes(local_tls().ca_pem)
    async with FakeGeminiServer(shipped_cassette_path(name), strict=False) as server:
        env = _env()
        env.update(
            GEMINI_API_KEY="docs-test-key",
            GOOGLE_GEMINI_BASE_URL=server.base_url,
            SSL_CERT_FILE=str(ca),
        )
        proc = await asyncio.to_thread(_script, block, folder, env)
        _check(block, proc)
    assert server.report.ok, f"{block.id} against {name}:\n{server.report.summary()}"


def _pytest(block: Block, folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "test_from_docs.py").write_text(block.code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_from_docs.py"],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
async def test_runnable_block(block: Block, tmp_path: Path) -> None:
    if block.how.startswith("cassette "):
        await _against_cassette(block, tmp_path)
        return
    if block.how == "pytest":
        proc = _pytest(block, tmp_path)
        _check(block, proc)
        assert " passed" in proc.stdout and "failed" not in proc.stdout, proc.stdout
        return
    _check(block, _script(block, tmp_path, _env()))
