"""Built-in plugins are found without installed metadata, and registered once with it.

The bare-checkout case runs for real: a copy of ``src/memori`` and a view of the
venv's site-packages without memori's dist-info (nor its editable-install
hook), imported by ``python -S`` so no ``.pth`` file adds the checkout back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from memori.core.registry import BUILTIN_PLUGINS, Plugins

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import importlib.metadata, json, sys
import memori
from memori import Memori
from memori.core.registry import get_plugins

with Memori(sys.argv[1], embedder="hash", extractor="offline") as mem:
    mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
    mem.remember("Goal: a sub-25 5K by June")
    hits = mem.recall("What is my running goal?")
plugins = get_plugins()
print(json.dumps({
    "memori": memori.__file__,
    "metadata": [ep.name for ep in importlib.metadata.entry_points(group="memori")],
    "plugins": plugins.plugin_names(),
    "backends": sorted(plugins.backends),
    "embedders": sorted(plugins.embedders),
    "extractors": sorted(plugins.extractors),
    "retrievers": sorted(plugins.retrievers),
    "recalled": [h.content for h in hits],
}))
"""


def _is_memori_install(name: str) -> bool:
    low = name.lower()
    return low.startswith(("memori-", "memori_jsonl", "_editable_impl_memori", "__editable__"))


@pytest.fixture(scope="module")
def bare_checkout(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """``sys.path`` of a bare checkout: the sources plus the dependencies, no memori metadata."""
    root = tmp_path_factory.mktemp("bare")
    src = root / "src"
    src.mkdir()
    # a copy, not the checkout: an editable install's finder may point at the checkout
    shutil.copytree(REPO / "src" / "memori", src / "memori",
                    ignore=shutil.ignore_patterns("__pycache__"))
    site = root / "site-packages"
    site.mkdir()
    dirs = dict.fromkeys(Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib"))
    for directory in dirs:
        for entry in directory.iterdir():
            if not _is_memori_install(entry.name) and entry.suffix != ".pth" \
                    and not (site / entry.name).exists():
                (site / entry.name).symlink_to(entry)
    return [str(src), str(site)]


def _run_bare(path: list[str], tmp_path: Path, **env: str) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'memori.db'}"
    proc = subprocess.run(
        [sys.executable, "-S", "-c", SCRIPT, url],
        env={"PYTHONPATH": os.pathsep.join(path), "HOME": str(tmp_path),
             "PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1", **env},
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_a_bare_checkout_finds_the_built_ins_and_remembers(
    bare_checkout: list[str], tmp_path: Path
) -> None:
    got = _run_bare(bare_checkout, tmp_path)
    assert str(got["memori"]).startswith(bare_checkout[0]), "ran the copy, not an install"
    assert got["metadata"] == [], "memori's dist-info was visible: not a bare checkout"
    assert sorted(got["plugins"]) == sorted(BUILTIN_PLUGINS)
    assert {"sqlite", "postgres", "mongo", "qdrant", "memory"} <= set(got["backends"])
    assert {"hash", "local", "openai"} <= set(got["embedders"])
    assert "offline" in got["extractors"]
    assert got["retrievers"]
    assert got["recalled"] and "sub-25" in got["recalled"][0]


def test_a_bare_checkout_honours_the_plugin_deny_list(
    bare_checkout: list[str], tmp_path: Path
) -> None:
    got = _run_bare(bare_checkout, tmp_path, MEMORI_DISABLE_PLUGINS="mongo,qdrant")
    assert "mongo" not in got["backends"] and "qdrant" not in got["backends"]
    assert "sqlite" in got["backends"]


def test_with_metadata_each_built_in_is_registered_once() -> None:
    plugins = Plugins()
    names = plugins.plugin_names()
    assert len(names) == len(set(names))
    modules = [p for n, p in plugins.pm.list_name_plugin() if n in BUILTIN_PLUGINS]
    assert len(modules) == len({id(m) for m in modules}) == len(BUILTIN_PLUGINS)


def test_the_built_in_table_matches_the_entry_points_of_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert dict(BUILTIN_PLUGINS) == project["project"]["entry-points"]["memori"]


def test_no_entry_points_loaded_means_no_built_ins() -> None:
    assert Plugins(load_entry_points=False).plugin_names() == []
