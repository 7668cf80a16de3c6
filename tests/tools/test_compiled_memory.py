"""XLA memory analysis of the compiled MAE gradient step: remat lowers the temp memory."""
import os

import keras
import pytest

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
CHILD = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
sys.path.insert(0, {tools!r})
from compiled_memory import gradient_step_memory
from keras4ds.mae import MaskedAutoencoder
from keras4ds.models import FourDSEncoder
out = {{}}
for remat in (False, True):
    encoder = FourDSEncoder(64, 3, 256, 2, num_frames=8, image_size=(64, 64), remat=remat)
    mae = MaskedAutoencoder(encoder, mask_ratio=0.25, decoder_width=32, decoder_depth=1, decoder_heads=2)
    out[str(remat)] = gradient_step_memory(mae, 2)
print("RESULT " + json.dumps(out))
"""


@pytest.mark.backend_independent
def test_remat_lowers_xla_temp_memory_of_the_gradient_step(child_result):
    out = child_result(["-c", CHILD.format(tools=os.path.abspath(TOOLS))], timeout=300)
    plain, remat = out["False"], out["True"]
    assert remat["temp"] < 0.8 * plain["temp"], out
    assert remat["argument"] == plain["argument"] and remat["output"] == plain["output"]


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="checks the non-JAX error")
def test_gradient_step_memory_off_jax_is_a_clear_error():
    from compiled_memory import gradient_step_memory

    with pytest.raises(NotImplementedError, match="needs the JAX backend"):
        gradient_step_memory(None, 1)
