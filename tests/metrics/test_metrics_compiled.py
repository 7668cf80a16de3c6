"""Every Keras metric updates inside a compiled step as it does eagerly.

TensorFlow traces `update_state` with the batch size unknown (`None`), JAX
jit-compiles `stateless_update_state`; torch runs eagerly, as its trainer does.
"""

import keras
import numpy as np
import pytest
from keras import ops
from test_box_metrics import random_tracks
from test_depth_metrics import random_depth
from test_pose_metrics import random_trajectories
from test_tapvid_metrics import random_case

from keras4ds.metrics import BoxTrackingIoU, CameraPoseMetrics, DepthMetrics, TapVidMetrics, TopKAccuracy


def compiled_update(metric, y_true, y_pred, sample_weight=None):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        args = (y_true, y_pred, sample_weight)
        specs = tf.nest.map_structure(
            lambda x: tf.TensorSpec((None,) + np.shape(x)[1:], tf.as_dtype(np.asarray(x).dtype)), args
        )
        tf.function(metric.update_state, input_signature=specs)(*args)
    elif backend == "jax":
        import jax

        state = [v.value for v in metric.variables]
        new_state = jax.jit(metric.stateless_update_state)(state, y_true, y_pred, sample_weight)
        for variable, value in zip(metric.variables, new_state):
            variable.assign(value)
    else:
        metric.update_state(y_true, y_pred, sample_weight)


def tapvid_args():
    case = random_case(0, batch=3)
    y_true = {
        "query_points": case["query_points"],
        "occluded": case["gt_occluded"],
        "tracks": case["gt_tracks"],
    }
    y_pred = {"occluded": case["pred_occluded"], "tracks": case["pred_tracks"]}
    return TapVidMetrics(query_mode="first"), y_true, y_pred


def depth_args():
    pred, gt = random_depth(0)
    return DepthMetrics(alignment="median", average="video"), gt.astype("float32"), pred.astype("float32")


def pose_args():
    pred, gt = random_trajectories(0)
    return CameraPoseMetrics(), gt.astype("float32"), pred.astype("float32")


def boxes_args():
    pred, gt, visible = random_tracks(0)
    return BoxTrackingIoU(), {"boxes": gt.astype("float32"), "visible": visible}, pred.astype("float32")


def topk_args():
    rng = np.random.default_rng(0)
    return TopKAccuracy(), rng.integers(0, 9, 6).astype("int32"), rng.normal(size=(6, 9)).astype("float32")


@pytest.mark.parametrize("make", [tapvid_args, depth_args, pose_args, boxes_args, topk_args])
def test_compiled_update_equals_eager_update(make):
    compiled, y_true, y_pred = make()
    eager, _, _ = make()
    batch = len(y_pred["tracks"] if isinstance(y_pred, dict) else y_pred)
    weight = np.linspace(0.5, 1.5, batch).astype("float32")
    if isinstance(eager, DepthMetrics):
        weight = np.ones_like(y_true)  # a depth metric's sample_weight is its valid mask
    for metric, update in ((compiled, compiled_update), (eager, type(eager).update_state)):
        update(metric, y_true, y_pred, weight)
    got, want = compiled.result(), eager.result()
    if not isinstance(want, dict):
        got, want = {"value": got}, {"value": want}
    for key in want:
        np.testing.assert_allclose(
            ops.convert_to_numpy(got[key]), ops.convert_to_numpy(want[key]), rtol=1e-5, err_msg=key
        )
