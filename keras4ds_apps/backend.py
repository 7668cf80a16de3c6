"""The one place where a runner's `--backend` becomes the Keras backend."""
import os
import sys

BACKENDS = ("jax", "tensorflow", "torch")


def add_backend_argument(parser):
    """`--backend {jax,tensorflow,torch}` on an argparse parser."""
    parser.add_argument("--backend", choices=BACKENDS,
                        help="Keras backend (default: KERAS_BACKEND, else jax); chosen before "
                             "Keras is imported")


def select_backend(backend):
    """Make `backend` (or, when None, KERAS_BACKEND else jax) the Keras backend.

    Raises SystemExit naming `--backend` when Keras is already loaded with another one (the
    backend is fixed when keras is first imported).
    """
    if "keras" in sys.modules:
        import keras

        current = keras.backend.backend()
        if backend and backend != current:
            raise SystemExit(f"--backend {backend}: Keras is already loaded with {current}; "
                             f"set KERAS_BACKEND={backend} instead")
        return current
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    return os.environ.setdefault("KERAS_BACKEND", "jax")
