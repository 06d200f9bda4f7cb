"""Every gallery example runs to the end (under the non-interactive Agg backend)."""

import runpy
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))


def test_the_gallery_is_not_empty():
    assert EXAMPLES, f"no plot_*.py example found in {EXAMPLES_DIR}"


# Warnings would show in the rendered gallery: treat them as failures.
@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch):
    # A scratch working directory, so that an example writing a file leaves
    # nothing behind in the repository.
    monkeypatch.chdir(tmp_path)
    try:
        runpy.run_path(str(path), run_name="__main__")
        assert plt.get_fignums(), f"{path.name} draws no figure"
    finally:
        plt.close("all")
