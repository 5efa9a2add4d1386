"""The documentation site builds strictly: broken links, missing pages, bad references and
API pages that no longer match the code all fail the build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # No --quiet: mkdocs only counts warnings for --strict when they are logged.
    command = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    command += ["-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")]
    proc = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    events_page = (site / "events" / "index.html").read_text(encoding="utf-8")
    # The events reference is generated from the models: every event type is listed.
    from realtalk.events import EVENT_ADAPTER

    kinds = [
        schema["properties"]["type"]["const"]
        for schema in EVENT_ADAPTER.json_schema()["$defs"].values()
        if "const" in schema.get("properties", {}).get("type", {})
    ]
    assert len(kinds) >= 18 and "audio_delta" in kinds
    for kind in kinds:
        assert f'id="{kind.replace("_", "-")}"' in events_page, kind
    api_page = (site / "reference" / "config" / "index.html").read_text(encoding="utf-8")
    assert "RealtimeConfig" in api_page and "ReconnectConfig" in api_page
    # The API reference renders the docstrings' markup: no raw Sphinx roles.
    import re

    role = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj):(?:`|<code>)")
    raw = {
        page.relative_to(site).as_posix(): len(role.findall(page.read_text(encoding="utf-8")))
        for page in (site / "reference").rglob("*.html")
    }
    assert not {k: v for k, v in raw.items() if v}, raw
