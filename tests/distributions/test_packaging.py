"""The four distributions are publishable as they stand: a license in every wheel and
sdist, project URLs, bounded internal dependencies, and an extra that runs the demo."""

from __future__ import annotations

import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = {
    "realtalk": ROOT / "core",
    "realtalk-gemini": ROOT / "providers" / "gemini",
    "realtalk-openai": ROOT / "providers" / "openai",
    "realtalk-testing": ROOT / "testing",
}


def _project(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text("utf-8"))
    return data


@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_metadata_of_each_distribution(name: str) -> None:
    folder = MEMBERS[name]
    data = _project(folder)
    project = data["project"]
    assert project["name"] == name
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert (folder / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    assert "Apache License" in (ROOT / "LICENSE").read_text("utf-8")
    assert set(project["urls"]) == {"Homepage", "Documentation", "Repository", "Issues"}
    assert project["urls"] == _project(MEMBERS["realtalk"])["project"]["urls"]
    assert data["build-system"]["requires"] == ["hatchling>=1.27"]  # PEP 639 license-files
    requirements = [Requirement(r) for r in project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(r) for r in extra]
    for req in requirements:
        if req.name in MEMBERS:
            version = project["version"]
            assert req.specifier.contains(version), (name, str(req))
            assert any(s.operator == "<" for s in req.specifier), f"{name}: {req} has no bound"


def test_the_demo_extra_installs_what_the_offline_demo_imports() -> None:
    demo = [
        Requirement(r)
        for r in _project(MEMBERS["realtalk"])["project"]["optional-dependencies"]["demo"]
    ]
    assert {r.name for r in demo} == {"realtalk-gemini", "realtalk-testing"}


def test_sqlite_side_files_are_ignored_by_git() -> None:
    names = ["threads.db-wal", "threads.db-shm", "threads.db-journal", "x/realtalk.sqlite-wal"]
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert sorted(proc.stdout.split()) == sorted(names), proc.stderr


def test_the_core_wheel_and_sdist_ship_the_license(tmp_path: Path) -> None:
    """One real build (the other three use the same pyproject layout, checked above)."""
    proc = subprocess.run(
        ["uv", "build", "--package", "realtalk", "--out-dir", str(tmp_path), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and "uv: command not found" in proc.stderr:
        pytest.skip("uv is not on PATH")
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("realtalk-*.whl"))
    sdist = next(tmp_path.glob("realtalk-*.tar.gz"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "realtalk-0.1.0.dist-info/licenses/LICENSE" in names
    assert "License-Expression: Apache-2.0" in metadata
    assert "Project-URL: Repository, " in metadata
    assert "Provides-Extra: demo" in metadata
    with tarfile.open(sdist) as archive:
        assert "realtalk-0.1.0/LICENSE" in archive.getnames()
