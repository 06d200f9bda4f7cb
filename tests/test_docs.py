"""Cheap checks of the documentation sources (Sphinx itself is not run here)."""

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import skportfolio

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
# Modules whose __all__ is not library API: the console script.
NOT_API = {"skportfolio.cli"}


def _public_modules():
    modules = [skportfolio]
    for info in pkgutil.iter_modules(skportfolio.__path__, prefix="skportfolio."):
        leaf = info.name.rsplit(".", 1)[1]
        if leaf.startswith("_") or info.name in NOT_API:
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            modules.append(module)
    return modules


def _api_entries():
    """Fully qualified names listed in the autosummary blocks of api.rst."""
    entries, module, in_block = [], None, False
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        directive = re.match(r"\.\. currentmodule:: (\S+)", line)
        if directive:
            module = directive.group(1)
        if line.startswith(".. autosummary::"):
            in_block = True
            continue
        if in_block:
            item = re.fullmatch(r"   ([A-Za-z_][\w.]*)", line)
            if item:
                entries.append(f"{module}.{item.group(1)}")
            elif line and not line.startswith("   :"):
                in_block = False
    return entries


def _resolve(qualified_name):
    parts = qualified_name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(qualified_name)


def test_api_reference_lists_entries():
    assert len(_api_entries()) > 10


@pytest.mark.parametrize("entry", _api_entries())
def test_every_api_entry_resolves(entry):
    _resolve(entry)


@pytest.mark.parametrize("module", _public_modules(), ids=lambda m: m.__name__)
def test_every_public_name_is_in_the_api_reference(module):
    documented = [_resolve(entry) for entry in _api_entries()]
    missing = [
        name
        for name in module.__all__
        if not name.startswith("__")
        and not any(obj is getattr(module, name) for obj in documented)
    ]
    assert not missing, f"{module.__name__}: add {missing} to docs/api.rst"


def _title_and_body(docstring):
    """The title of a gallery docstring (overline optional) and what follows."""
    lines = docstring.strip().splitlines()
    if lines and set(lines[0]) == {"="}:
        lines = lines[1:]
    if len(lines) < 2 or set(lines[1]) != {"="} or len(lines[1]) < len(lines[0]):
        return None, None
    return lines[0].strip(), "\n".join(lines[2:]).strip()


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_example_has_a_title_and_introduction(path):
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, f"{path.name} has no module docstring"
    title, body = _title_and_body(docstring)
    assert title, f"{path.name}: the docstring must start with an '=' underlined title"
    assert body, f"{path.name}: the title must be followed by an introduction"


def test_gallery_header_exists():
    header = (ROOT / "examples" / "README.txt").read_text(encoding="utf-8")
    assert _title_and_body(header)[0]


def test_every_page_is_in_the_toctree():
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    pages = {path.stem for path in DOCS.glob("*.rst")} - {"index"}
    missing = [page for page in sorted(pages) if f"\n   {page}\n" not in index]
    assert not missing, f"pages missing from the toctree of index.rst: {missing}"


def test_build_needs_no_network():
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert "sphinx.ext.intersphinx" not in conf
    assert "intersphinx_mapping" not in conf
