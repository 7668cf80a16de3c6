"""Export a 4DS model for serving: a TensorFlow SavedModel folder or an ONNX file, written
under a staged name and renamed into place (never a half-written export)."""
import importlib.util
import os
import secrets
import shutil

import keras

from keras4ds.utils import write_staged

EXPORT_FORMATS = ("tf_saved_model", "onnx")
# Packages Keras' exporter needs per (format, backend) beyond the backend itself.
_NEEDS = {("tf_saved_model", "torch"): ("torch_xla",),
          ("onnx", "tensorflow"): ("onnx", "tf2onnx"),
          ("onnx", "jax"): ("onnx", "jax2onnx"),
          ("onnx", "torch"): ("onnx", "onnxscript")}


def export_unsupported(format, backend=None):
    """Why `format` cannot be exported on `backend` (default: the current one) here, e.g.
    a package that is not installed; None when it can."""
    if format not in EXPORT_FORMATS:
        return f"format must be one of {EXPORT_FORMATS}; got {format!r}"
    backend = backend or keras.backend.backend()
    missing = [name for name in _NEEDS.get((format, backend), ())
               if importlib.util.find_spec(name) is None]
    if missing:
        return (f"exporting {format} on the {backend} backend needs {', '.join(missing)}, "
                f"not installed")
    return None


def export_model(model, path, format="tf_saved_model"):
    """Write `model` (built: any `Backbone` is, no dummy call needed) as `format` to `path`
    (a SavedModel folder, or an `.onnx` file); refuses an existing `path`. Returns the
    absolute path. The SavedModel's `serve` endpoint takes `(B, T, H, W, 3)` float32."""
    path = os.path.abspath(os.fspath(path))
    reason = export_unsupported(format)
    if reason:
        raise ValueError(reason)
    if os.path.lexists(path):
        raise FileExistsError(f"{path} exists; not replacing it with an export")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if format == "onnx":
        return write_staged(path, lambda staged: model.export(staged, format="onnx",
                                                              verbose=False))
    staging = os.path.join(os.path.dirname(path), f".export-{os.path.basename(path)}.staging-"
                                                  f"{os.getpid()}-{secrets.token_hex(4)}")
    try:
        model.export(staging, format=format, verbose=False)
        os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path
