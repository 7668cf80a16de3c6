import keras
import numpy as np
import pytest
from keras import ops

from keras4ds.models.patches import patchify

from .helpers import TINY_VIDEO_SHAPE, tiny_mae

N = 2 * 4 * 4  # tokens of the tiny grid (2, 4, 4)


def _video(batch=2, seed=0):
    return np.random.default_rng(seed).random((batch, *TINY_VIDEO_SHAPE)).astype("float32")


@pytest.mark.parametrize("decoder,targets", [("standard", 24), ("masked", 12), ("cross", 24)])
def test_outputs_and_targets_follow_the_mask(decoder, targets):
    mae = tiny_mae(decoder)
    video = _video()
    mask = mae.sample_mask(2, seed=3)
    prediction, target = mae({"video": video, "mask": mask})
    assert tuple(prediction.shape) == (2, targets, 2 * 4 * 4 * 3) == tuple(target.shape)
    # Each target row is the normalised pixels of a masked tubelet of that clip.
    patches = ops.convert_to_numpy(patchify(video, (2, 4, 4))).reshape(2, N, -1)
    normed = (patches - patches.mean(-1, keepdims=True)) / np.sqrt(patches.var(-1, keepdims=True) + 1e-6)
    target = ops.convert_to_numpy(target)
    for b in range(2):
        distances = ((target[b][:, None] - normed[b][None]) ** 2).sum(-1)
        matched = distances.argmin(1)
        np.testing.assert_allclose(distances.min(1), 0, atol=1e-6)
        assert mask[b, matched].all() and len(set(matched.tolist())) == targets


@pytest.mark.parametrize("decoder", ["standard", "masked", "cross"])
def test_prediction_ignores_the_pixels_of_masked_tubelets(decoder):
    mae = tiny_mae(decoder, seed=5)
    video = _video()
    mask = mae.sample_mask(2, seed=1)
    changed = video.copy()
    token_pixels = ops.convert_to_numpy(patchify(changed, (2, 4, 4))).reshape(2, N, -1)
    hidden = mask.reshape(2, 2, 4, 4)
    # Overwrite every masked tubelet with noise.
    for b, t, h, w in zip(*np.nonzero(hidden)):
        changed[b, 2 * t:2 * t + 2, 4 * h:4 * h + 4, 4 * w:4 * w + 4] = np.random.rand(2, 4, 4, 3)
    assert token_pixels.shape == (2, N, 96)
    mae.seed_generator.state.assign(np.array([0, 7], "uint32"))
    first = ops.convert_to_numpy(mae({"video": video, "mask": mask})[0])
    mae.seed_generator.state.assign(np.array([0, 7], "uint32"))
    second = ops.convert_to_numpy(mae({"video": changed, "mask": mask})[0])
    np.testing.assert_allclose(first, second, atol=1e-5)


def test_reconstruct_keeps_visible_tubelets_and_stays_in_range():
    mae = tiny_mae("standard")
    video = _video()
    mask = mae.sample_mask(2, seed=2)
    out = ops.convert_to_numpy(mae.reconstruct(video, mask))
    assert out.shape == video.shape and out.min() >= 0 and out.max() <= 1
    visible = ~mask.reshape(2, 2, 4, 4)
    for b, t, h, w in zip(*np.nonzero(visible)):
        sl = (b, slice(2 * t, 2 * t + 2), slice(4 * h, 4 * h + 4), slice(4 * w, 4 * w + 4))
        np.testing.assert_allclose(out[sl], video[sl], atol=1e-5)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="decoder must be one of"):
        tiny_mae("sparse")
    mae = tiny_mae()
    with pytest.raises(ValueError, match="mask of shape"):
        mae({"video": _video(), "mask": np.zeros((2, 7), bool)})
    with pytest.raises(ValueError, match="exactly 24"):
        mae({"video": _video(), "mask": np.zeros((2, N), bool)})
    with pytest.raises(KeyError, match="video"):
        mae({"frames": _video()})
    with pytest.raises(ValueError, match="expected video of shape"):
        mae(np.zeros((2, 4, 8, 8, 3), "float32"))


def test_tube_masking_model_masks_whole_tubes():
    mae = tiny_mae(tube_masking=True, mask_ratio=0.5)
    assert mae.num_masked == 16
    mask = mae.sample_mask(3)
    assert (mask.reshape(3, 2, 16) == mask.reshape(3, 2, 16)[:, :1]).all()
    prediction, _ = mae(_video())
    assert tuple(prediction.shape) == (2, 16, 96)
    assert keras.backend.standardize_dtype(prediction.dtype) == "float32"


def test_fit_on_bare_arrays_with_mixed_bfloat16():
    from keras4ds.mae import make_optimizer

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mae = tiny_mae()
        mae.compile(optimizer=make_optimizer(1e-3, steps=2, warmup_steps=1))
        history = mae.fit(_video(4), epochs=1, batch_size=2, verbose=0)
        prediction, _ = mae(_video())
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history.history["loss"][0])
    assert keras.backend.standardize_dtype(prediction.dtype) == "float32"
    assert mae.encoder.blocks[0].mlp.dense_in.compute_dtype == "bfloat16"


def _numpy_attention(layer, x, context):
    """Multi-head softmax attention of `x` on `context` from the layer's own weights."""
    w = {name: [np.asarray(ops.convert_to_numpy(v)) for v in getattr(layer, name).weights]
         for name in ("query", "key", "value", "out")}
    q = np.einsum("bnd,dhk->bnhk", x, w["query"][0]) + w["query"][1]
    k = np.einsum("bmd,dhk->bmhk", context, w["key"][0]) + w["key"][1]
    v = np.einsum("bmd,dhk->bmhk", context, w["value"][0]) + w["value"][1]
    logits = np.einsum("bnhk,bmhk->bhnm", q, k) / np.sqrt(q.shape[-1])
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    heads = np.einsum("bhnm,bmhk->bnhk", probs, v)
    return np.einsum("bnhk,hkd->bnd", heads, w["out"][0]) + w["out"][1]


def test_cross_decoder_attends_with_the_encoders_attention_layer():
    """The cross decoder's blocks use `Attention` (the encoder's layer): queries from the
    targets, keys and values from the visible tokens, under the variable paths the MAE
    checkpoints record."""
    from keras4ds.models.layers import Attention

    mae = tiny_mae("cross")
    block = mae.decoder.blocks[0]
    assert isinstance(block.attention, Attention)
    assert isinstance(mae.encoder.blocks[0].attention, Attention)
    paths = [v.path.split("/", 1)[1] for v in block.attention.weights]
    assert paths == [f"block_0/attention/{name}/{kind}" for name in ("query", "key", "value", "out")
                     for kind in ("kernel", "bias")]
    rng = np.random.default_rng(0)
    queries = rng.normal(size=(2, 3, 16)).astype("float32")
    context = rng.normal(size=(2, 5, 16)).astype("float32")
    got = ops.convert_to_numpy(block.attention(queries, context))
    np.testing.assert_allclose(got, _numpy_attention(block.attention, queries, context),
                               rtol=1e-4, atol=1e-5)
    self_attended = ops.convert_to_numpy(block.attention(context))
    np.testing.assert_allclose(self_attended, _numpy_attention(block.attention, context, context),
                               rtol=1e-4, atol=1e-5)
