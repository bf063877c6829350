"""The docs say what the code has: every error class on the troubleshooting page, every
API reference directive resolvable, the migration example runnable; the version written
once; the docs tools in the extras."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import memori
from memori.core import errors

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

NOT_FOR_USERS = {"CLIError"}
"""Error classes the user never sees as such (the CLI prints their message and exits)."""


def _core_error_classes() -> list[str]:
    return sorted(name for name, obj in vars(errors).items()
                  if inspect.isclass(obj) and issubclass(obj, BaseException)
                  and obj.__module__ == errors.__name__)


def _other_error_classes() -> list[str]:
    """Classes named ``*Error`` defined anywhere else in the package (read, not imported)."""
    found = []
    for path in (REPO / "src" / "memori").rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                found.append(node.name)
    return sorted(set(found) - NOT_FOR_USERS)


def _sections(page: Path) -> dict[str, str]:
    """``## `Name` `` headings of a page and the text under each."""
    parts = re.split(r"^## `(\w+)`\s*$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_core_has_the_error_classes_this_test_expects() -> None:
    names = _core_error_classes()
    assert "MemoriError" in names and "MissingExtraError" in names and len(names) >= 10


@pytest.mark.parametrize("name", _core_error_classes() + _other_error_classes())
def test_troubleshooting_explains_every_error_class(name: str) -> None:
    sections = _sections(DOCS / "troubleshooting.md")
    assert name in sections, f"docs/troubleshooting.md has no '## `{name}`' section"
    text = sections[name]
    assert "**Cause**" in text and "**Fix**" in text, f"{name}: say its cause and its fix"


def test_the_troubleshooting_page_is_in_the_nav() -> None:
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in ("troubleshooting.md", "migrating.md", "changelog.md", "reference/index.md"):
        assert f": {page}" in nav, page


def _directives() -> list[tuple[str, str]]:
    return [(page.name, target)
            for page in sorted((DOCS / "reference").glob("*.md"))
            for target in re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"),
                                     flags=re.MULTILINE)]


def test_the_api_reference_documents_the_public_api() -> None:
    targets = {target for _, target in _directives()}
    assert {"memori.facade.Memori", "memori.core.models", "memori.core.protocols",
            "memori.core.errors", "memori.core.registry"} <= targets
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert "mkdocstrings" in nav
    for page in (DOCS / "reference").glob("*.md"):
        assert f"reference/{page.name}" in nav, f"{page.name} is not in the nav"


@pytest.mark.parametrize(("page", "target"), _directives())
def test_every_api_reference_directive_names_an_importable_object(page: str, target: str) -> None:
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return
    pytest.fail(f"{page}: ::: {target} names nothing importable")


def test_the_migration_example_runs(tmp_path: Path) -> None:
    text = (DOCS / "migrating.md").read_text(encoding="utf-8")
    example = text.split("## From mem0", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    proc = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, memories = proc.stdout.strip().splitlines()[0], proc.stdout.strip().splitlines()[-1]
    assert first.endswith("Likes tennis and plays on Sundays.")
    assert 0 < float(first.split()[0]) <= 1
    assert "Likes tennis" in memories


def test_the_version_is_written_once() -> None:
    assert "version" not in PROJECT and "version" in PROJECT.get("dynamic", [])
    hatch = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]
    assert hatch["version"]["path"] == "src/memori/__init__.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+|\.dev\d+)?", memori.__version__)


def test_the_installed_metadata_carries_that_version() -> None:
    assert importlib.metadata.version("memori") == memori.__version__


def test_the_changelog_states_its_policy_and_the_current_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Versioning and deprecation policy" in text and "DeprecationWarning" in text
    assert "## Unreleased" in text or f"## {memori.__version__} " in text
    assert f"## {memori.__version__} (" in text, "the current version has no changelog entry"


def test_the_docs_tools_are_in_the_extras() -> None:
    extras = PROJECT["optional-dependencies"]
    docs = " ".join(extras["docs"])
    assert "mkdocstrings-python" in docs and "mkdocs-material" in docs
    assert "memori[docs]" in extras["test"]


def test_the_package_metadata_is_filled_in() -> None:
    assert PROJECT["keywords"] and PROJECT["authors"][0]["name"]
    classifiers = set(PROJECT["classifiers"])
    minimum = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"])
    assert minimum is not None
    assert f"Programming Language :: Python :: 3.{minimum.group(1)}" in classifiers
    assert "Typing :: Typed" in classifiers
