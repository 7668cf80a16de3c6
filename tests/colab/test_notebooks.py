"""Execute every notebook in colab/ top to bottom (nbclient, kernel python3) on jax.

Run from the repository root, as the notebooks' relative paths expect.
"""
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.backend_independent  # runs once, in the jax pass

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "colab").glob("*.ipynb"))
# Per-cell ceiling against hangs; on an idle CPU each notebook takes well under a minute.
TIMEOUT_S = 300


def test_there_are_four_notebooks():
    assert len(NOTEBOOKS) == 4, [n.name for n in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    client = NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    images = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
