"""Sphinx configuration of the skportfolio documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``. The build needs no network access: there is no
intersphinx mapping, and the gallery runs the examples on the embedded data.
"""

import importlib.util
import os
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

# Document the source tree next to this file even if another copy of
# skportfolio is installed.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import skportfolio  # noqa: E402

project = "skportfolio"
author = "skportfolio developers"
copyright = "skportfolio developers"
version = release = skportfolio.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
default_role = "literal"

# autosummary writes one page per public object under docs/gen_modules/.
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"

# numpydoc renders the Parameters/Returns sections; the class pages list
# their methods through autodoc, so numpydoc's own member tables would repeat
# them (and warn about members without a page).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    # A failing example fails the build instead of leaving a traceback page.
    "abort_on_example_error": True,
    # No sg_execution_times.rst pages: they would be build products in the
    # source tree.
    "write_computation_times": False,
    "only_warn_on_example_error": False,
    # SKPORTFOLIO_DOCS_NO_GALLERY=1 skips running the examples for a quick
    # check of the prose and API pages.
    "plot_gallery": "False"
    if os.environ.get("SKPORTFOLIO_DOCS_NO_GALLERY")
    else "True",
}

if importlib.util.find_spec("pydata_sphinx_theme") is not None:
    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
    }
else:
    html_theme = "alabaster"
html_title = f"skportfolio {version}"
html_static_path = []


# Identifiers ending in an underscore, followed by "," or ")": in reST a
# trailing underscore makes a hyperlink reference, so a numpydoc type such as
# "ndarray of shape (n_features_in_,)" would point to a missing target.
_TRAILING_UNDERSCORE = re.compile(r"\b([A-Za-z]\w*)_(?=[,)])")
# The "name : type" header line of a numpydoc parameter or attribute.
_NUMPYDOC_FIELD = re.compile(r"^\s*\*{0,2}\w+ : ")


def _escape_types(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if _NUMPYDOC_FIELD.match(line):
            head, _, kind = line.partition(" : ")
            lines[i] = head + " : " + _TRAILING_UNDERSCORE.sub(r"\1\\_", kind)


def _defining_module(obj):
    target = obj.fget if isinstance(obj, property) else obj
    return getattr(target, "__module__", None) or ""


def _skip_foreign_members(app, what, name, obj, skip, options):
    # Class pages show the members skportfolio defines, inherited ones
    # included (fit, predict and score of the portfolio base class). Those
    # scikit-learn provides (get_params, set_{method}_request, ...) are
    # documented by scikit-learn, and their docstrings point into its own
    # user guide, which this build does not link to.
    if what == "class" and not _defining_module(obj).startswith("skportfolio"):
        return True
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    # Before numpydoc (priority 500) parses the sections.
    app.connect("autodoc-process-docstring", _escape_types, priority=100)
    app.connect("autodoc-skip-member", _skip_foreign_members)
