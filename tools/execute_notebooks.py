"""Execute the colab/ notebooks with the settings written in them and save their outputs.

  KERAS_BACKEND=jax python tools/execute_notebooks.py            # every notebook
  KERAS_BACKEND=jax python tools/execute_notebooks.py miniature_study

Each notebook runs top to bottom (nbclient, kernel python3) in an empty temporary folder,
importing this checkout's keras4ds, without KERAS4DS_NOTEBOOK_SMOKE (so with the settings a
Colab reader gets), and is written back with its outputs and figures (to a temporary name,
then renamed); progress bars are saved as their last state. A notebook that raises is
left as it was and the command fails.
"""
import argparse
import os
import pathlib
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras4ds.utils import write_text  # noqa: E402

TIMEOUT_S = 1800  # per cell


def execute(path: pathlib.Path) -> float:
    """Run `path` in an empty folder and save it with its outputs; returns seconds."""
    notebook = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "KERAS4DS_NOTEBOOK_SMOKE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TensorFlow start-up log lines in the outputs
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    start = time.time()
    with tempfile.TemporaryDirectory() as work:
        NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3", coalesce_streams=True,
                       resources={"metadata": {"path": work}}).execute()
    write_text(str(path), nbformat.writes(notebook) + "\n")
    return time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook stems (default: all of colab/)")
    args = parser.parse_args()
    paths = sorted((ROOT / "colab").glob("*.ipynb"))
    if args.names:
        known = {p.stem: p for p in paths}
        unknown = sorted(set(args.names) - set(known))
        if unknown:
            parser.error(f"no notebook {unknown} in colab/ (there are {sorted(known)})")
        paths = [known[n] for n in args.names]
    for path in paths:
        print(f"{path.name}: {execute(path):.0f} s", flush=True)


if __name__ == "__main__":
    main()
