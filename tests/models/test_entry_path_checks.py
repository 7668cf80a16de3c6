"""Bad videos and probe inputs are refused on every entry path: a direct call, `predict`,
`evaluate` and `fit`, with arrays, tf.data datasets, PyDatasets and generators."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras4ds.models import DepthModel, FourDSEncoder
from keras4ds.readouts import make_probe

FRAMES, SIZE = 4, 32


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return FourDSEncoder(width=16, depth=1, mlp_dim=32, num_heads=2, num_frames=FRAMES,
                         image_size=(SIZE, SIZE))


@pytest.fixture(scope="module")
def depth_model(encoder):
    return DepthModel(encoder, num_params=16, num_heads=2, decoding_patch_size=(2, 8, 8))


def _video(batch=2):
    return np.random.default_rng(0).random((batch, FRAMES, SIZE, SIZE, 3), dtype=np.float32)


def _with_nan(video):
    video = video.copy()
    video[1, 2, 3, 4, 0] = np.nan
    return video


BAD_VIDEOS = {
    "nan": (_with_nan(_video()), ValueError, "video contains NaN"),
    "0..255": (_video() * 255, ValueError, r"video values in \[0, 1\]"),
    "negative": (_video() - 0.5, ValueError, r"video values in \[0, 1\]"),
    "uint8": ((_video() * 255).astype(np.uint8), TypeError, "float video"),
    "empty batch": (_video()[:0], ValueError, "video batch is empty"),
    "frames": (_video()[:, :2], ValueError, r"video of shape \(B, 4, 32, 32, 3\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_VIDEOS))
@pytest.mark.parametrize("path", ["call", "predict"])
def test_encoder_refuses_bad_video(encoder, case, path):
    video, error, message = BAD_VIDEOS[case]
    run = encoder if path == "call" else (lambda v: encoder.predict(v, verbose=0))
    with pytest.raises(error, match=message):
        run(video)


@pytest.mark.parametrize("case", ["nan", "0..255", "empty batch"])
def test_depth_model_predict_refuses_bad_video(depth_model, case):
    video, error, message = BAD_VIDEOS[case]
    with pytest.raises(error, match=message):
        depth_model.predict(video, verbose=0)


def test_good_video_gives_the_same_answer_on_every_path(encoder):
    video = _video(4)
    direct = keras.ops.convert_to_numpy(encoder(video))
    dataset = tf.data.Dataset.from_tensor_slices(video).batch(2)
    for answer in (encoder.predict(video, batch_size=2, verbose=0),
                   encoder.predict(dataset, verbose=0)):
        np.testing.assert_allclose(answer, direct, rtol=1e-5, atol=1e-5)


class _Batches(keras.utils.PyDataset):
    def __init__(self, videos):
        super().__init__()
        self.videos = videos

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, index):
        return self.videos[index]


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset", "generator"])
def test_predict_checks_streamed_batches(encoder, kind):
    """The second batch is bad: it is refused when it is read, with the check's own error."""
    batches = [_video(), _video() * 255]
    data = {"tf.data": lambda: tf.data.Dataset.from_tensor_slices(np.stack(batches)),
            "PyDataset": lambda: _Batches(batches),
            "generator": lambda: (b for b in batches)}[kind]()
    before = keras.ops.convert_to_numpy(encoder(batches[0]))
    with pytest.raises(ValueError, match=r"video values in \[0, 1\]"):
        encoder.predict(data, verbose=0)
    # the failed call leaves the model as it was
    np.testing.assert_allclose(encoder.predict(batches[0], verbose=0), before, atol=1e-6)


def _depth_targets(batch):
    return np.ones((batch, FRAMES, SIZE, SIZE, 1), np.float32)


@pytest.mark.parametrize("path", ["fit", "evaluate", "fit validation_data"])
def test_depth_model_training_paths_refuse_nan(depth_model, path):
    depth_model.compile(optimizer="adam", loss="mae")
    good, bad = _video(), _with_nan(_video())
    with pytest.raises(ValueError, match="video contains NaN"):
        if path == "fit":
            depth_model.fit(bad, _depth_targets(2), epochs=1, verbose=0)
        elif path == "evaluate":
            depth_model.evaluate(bad, _depth_targets(2), verbose=0)
        else:
            depth_model.fit(good, _depth_targets(2), validation_data=(bad, _depth_targets(2)),
                            epochs=1, verbose=0)


@pytest.mark.parametrize("kind", ["tf.data", "generator"])
def test_fit_stops_at_a_bad_streamed_batch(depth_model, kind):
    """Training stops at the bad batch with the check's error; the weights stay finite."""
    depth_model.compile(optimizer="adam", loss="mae")
    videos = np.stack([_video(), _with_nan(_video())])
    targets = np.stack([_depth_targets(2)] * 2)
    data = (tf.data.Dataset.from_tensor_slices((videos, targets)) if kind == "tf.data"
            else ((v, t) for v, t in zip(videos, targets)))
    with pytest.raises(ValueError, match="video contains NaN"):
        depth_model.fit(data, epochs=2, verbose=0)
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in depth_model.weights)
    assert np.isfinite(depth_model.predict(_video(), verbose=0)).all()


def _probe_inputs(task):
    rng = np.random.default_rng(1)
    inputs = {"video": _video()}
    if task == "points":
        inputs["query_points"] = np.concatenate(
            [np.zeros((2, 3, 1)), rng.random((2, 3, 2))], -1).astype(np.float32)
    else:
        inputs["query_boxes"] = np.tile(np.float32([[0.2, 0.2, 0.6, 0.6]]), (2, 2, 1))
    return inputs


def _set(key, index, value):
    def damage(inputs):
        inputs[key] = inputs[key].copy()
        inputs[key][index] = value
    return damage


PROBE_CASES = {  # task, damage, expected message
    "query point outside the image": (
        "points", _set("query_points", (0, 2, 2), 1.5),
        r"inputs\['query_points'\] \(y, x\) values in \[0, 1\]"),
    "query frame after the clip": (
        "points", _set("query_points", (0, 0, 0), 9.0),
        r"inputs\['query_points'\] frame index t values in \[0, 3\]"),
    "NaN query box": ("boxes", _set("query_boxes", (0, 0, 1), np.nan),
                      r"inputs\['query_boxes'\] contains NaN"),
    "query box outside the image": ("boxes", _set("query_boxes", (1, 1, 3), 1.4),
                                    r"inputs\['query_boxes'\] values in \[0, 1\]"),
}


@pytest.mark.parametrize("case", sorted(PROBE_CASES))
@pytest.mark.parametrize("path", ["call", "predict"])
def test_probes_refuse_bad_queries(encoder, case, path):
    task, damage, message = PROBE_CASES[case]
    head = {"head": "attention"} if task == "points" else {}
    probe = make_probe(task, encoder, num_params=16, num_heads=2, **head)
    inputs = _probe_inputs(task)
    damage(inputs)
    with pytest.raises(ValueError, match=message):
        probe(inputs) if path == "call" else probe.predict(inputs, verbose=0)


def test_probe_refuses_nan_features(encoder):
    probe = make_probe("pose", encoder, num_params=16, num_heads=2)
    features = np.zeros((2, encoder.num_tokens, encoder.width), np.float32)
    features[0, 1, 2] = np.inf
    with pytest.raises(ValueError, match=r"inputs\['features'\] contains NaN or infinite"):
        probe.predict({"features": features}, verbose=0)


@pytest.mark.parametrize("path", ["call", "predict"])
def test_probe_refuses_video_in_0_255(encoder, path):
    probe = make_probe("pose", encoder, num_params=16, num_heads=2)
    inputs = {"video": _video() * 255}
    with pytest.raises(ValueError, match=r"inputs\['video'\] values in \[0, 1\]"):
        probe(inputs) if path == "call" else probe.predict(inputs, verbose=0)
