"""The same weights give the same outputs on jax, tensorflow and torch; a preset saved on one
backend loads on another. The tensorflow and torch halves run in subprocesses."""
import os
import subprocess
import sys

import numpy as np
import pytest
from fixture_files import OFFICIAL_FORMAT

FIXTURE = os.path.join(OFFICIAL_FORMAT, "dev_depth.npz")
# argv: official npz, preset to load (from another backend), preset to save, outputs .npz
CHILD = """
import sys, numpy as np, keras4ds
from keras import ops
video = np.random.default_rng(0).uniform(size=(1, 16, 32, 32, 3)).astype("float32")
official = keras4ds.load_official(sys.argv[1])
loaded = keras4ds.load_preset(sys.argv[2])
keras4ds.save_preset(official, sys.argv[3])
np.savez(sys.argv[4], official=ops.convert_to_numpy(official(video)),
         loaded=ops.convert_to_numpy(loaded(video)))
"""


@pytest.mark.backend_independent
def test_presets_travel_between_backends(tmp_path):
    from keras import ops

    import keras4ds

    video = np.random.default_rng(0).uniform(size=(1, 16, 32, 32, 3)).astype("float32")
    model = keras4ds.load_official(FIXTURE)  # jax, in this process
    jax_out = ops.convert_to_numpy(model(video))
    keras4ds.save_preset(model, tmp_path / "jax")
    previous = "jax"
    for backend in ("tensorflow", "torch"):
        result = tmp_path / f"{backend}.npz"
        subprocess.run([sys.executable, "-c", CHILD, FIXTURE, tmp_path / previous,
                        tmp_path / backend, result], check=True, timeout=300,
                       env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True)
        outputs = np.load(result)
        np.testing.assert_allclose(outputs["official"], jax_out, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(outputs["loaded"], jax_out, rtol=1e-4, atol=1e-5)
        previous = backend
    restored = keras4ds.load_preset(tmp_path / "torch")
    np.testing.assert_allclose(ops.convert_to_numpy(restored(video)), jax_out, rtol=1e-4, atol=1e-5)
