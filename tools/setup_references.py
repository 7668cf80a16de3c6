"""Set up the reference encoders that tools/performance.py times keras4ds against.

    python tools/setup_references.py --official /path/to/representations4d \
        --torch-port /path/to/torch-representations4d

`--official` (a checkout or a git URL) is installed into a new virtual environment
(default /opt/r4d-venv) that sees this interpreter's packages (jax, numpy, einops) through
a `.pth` file, so it works from a venv as from a system Python; the official package and its
pure-Python needs are installed there with `--no-deps` and never touch this environment.
`--torch-port` (a checkout or a git URL) is cloned to /opt/torch-representations4d.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reference_systems import (  # noqa: E402
    DEFAULT_OFFICIAL_PYTHON,
    DEFAULT_TORCH_PORT,
    OFFICIAL_PINS,
    OFFICIAL_SOURCE,
    TORCH_PORT_SOURCE,
    find_official_python,
    find_torch_port,
)


def make_official_venv(source, python_path):
    """A venv at the folder of `python_path` (`.../bin/python`) with the official package.

    The venv's site-packages gets a `keras4ds_host.pth` naming every site-packages folder
    this interpreter imports from (a venv's and, with --system-site-packages, the system's),
    so `import jax` there finds the jax keras4ds runs with.
    """
    root = os.path.dirname(os.path.dirname(python_path))
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    python = os.path.join(root, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    host = [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")]
    with open(os.path.join(site.stdout.strip(), "keras4ds_host.pth"), "w") as f:
        f.write("\n".join(dict.fromkeys(host)) + "\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", source,
                    *OFFICIAL_PINS], check=True)
    return find_official_python(python)


def clone(source, folder):
    """`git clone` a checkout or URL into `folder` (kept when it is already a checkout)."""
    if not os.path.isdir(os.path.join(folder, ".git")):
        subprocess.run(["git", "clone", "--quiet", source, folder], check=True)
    return folder


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--official", help=f"representations4d checkout or URL ({OFFICIAL_SOURCE})")
    p.add_argument("--official-python", default=DEFAULT_OFFICIAL_PYTHON,
                   help="the interpreter to create (its venv is made anew)")
    p.add_argument("--torch-port", help=f"the port's checkout or URL ({TORCH_PORT_SOURCE})")
    p.add_argument("--torch-port-folder", default=DEFAULT_TORCH_PORT)
    args = p.parse_args(argv)
    if not (args.official or args.torch_port):
        p.error("give --official, --torch-port or both")
    if args.official:
        print("official Flax encoder:", make_official_venv(args.official, args.official_python))
    if args.torch_port:
        clone(args.torch_port, args.torch_port_folder)
        print("PyTorch port:", find_torch_port(args.torch_port_folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
