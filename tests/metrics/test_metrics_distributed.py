"""The Keras metrics give the numpy values when evaluation is split over two replicas.

JAX: `keras.distribution.DataParallel` over 2 forced host devices; TensorFlow:
`tf.distribute.MirroredStrategy` over 2 logical CPUs.  Device counts must be set
before the backend starts, so each case runs in a fresh Python process.  TAP-Vid's
dict targets and predictions go through a model that hands the metric the whole dicts.
"""

import os
import textwrap

import keras
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    backend = os.environ["KERAS_BACKEND"]
    if backend == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from keras4ds import metrics as M
    sys.path.insert(0, sys.argv[1])
    from test_depth_metrics import random_depth
    from test_pose_metrics import random_trajectories
    from test_box_metrics import random_tracks
    from test_tapvid_metrics import random_case

    if backend == "jax":
        import contextlib
        import jax
        assert len(jax.devices()) == 2, jax.devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        scope = contextlib.nullcontext
        replicas = 2
    else:
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        scope = strategy.scope
        replicas = strategy.num_replicas_in_sync

    class DictIdentity(keras.Model):
        # Returns its input dict, with no loss; `metric` is updated with the whole `y`
        # and output dicts (metrics given to compile() would be split per output).

        def __init__(self, metric):
            super().__init__()
            self.metric = metric

        def call(self, x):
            return x

        def compute_loss(self, *args, **kwargs):
            return keras.ops.zeros(())

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            self.metric.update_state(y, y_pred)
            return self.get_metrics_result()

    def evaluate(metric, x, y, loss="mse"):
        with scope():
            if isinstance(x, dict):
                model = DictIdentity(metric)
                model.compile()
            else:
                model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Identity()])
                model.compile(loss=loss, metrics=[metric])
        logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
        return {k: v for k, v in logs.items() if k not in ("loss", "compile_metrics")}

    out = {"replicas": replicas}
    pred, gt = random_depth(7, shape=(8, 3, 6, 5))
    gt = np.nan_to_num(gt)
    out["depth"] = (
        evaluate(M.DepthMetrics(alignment="median"), pred.astype("float32"), gt.astype("float32")),
        M.depth_metrics(pred, gt, alignment="median"),
    )
    pred, gt = random_trajectories(7, batch=8, frames=5)
    out["pose"] = (evaluate(M.CameraPoseMetrics(), pred.astype("float32"), gt.astype("float32")),
                   M.camera_pose_metrics(pred, gt))
    pred, gt, _ = random_tracks(7, batch=8)
    out["boxes"] = (evaluate(M.BoxTrackingIoU(name="box_iou"), pred.astype("float32"), gt.astype("float32")),
                    {"box_iou": M.box_tracking_iou(pred, gt)})
    case = random_case(7, batch=8)
    y_true = {"query_points": case["query_points"], "occluded": case["gt_occluded"].astype("float32"),
              "tracks": case["gt_tracks"]}
    y_pred = {"occluded": case["pred_occluded"].astype("float32"), "tracks": case["pred_tracks"]}
    per_video = M.tapvid_metrics(**case, query_mode="first")
    out["tapvid"] = (evaluate(M.TapVidMetrics(query_mode="first"), y_pred, y_true),
                     {key: float(np.mean(v)) for key, v in per_video.items()})
    rng = np.random.default_rng(7)
    scores, labels = rng.normal(size=(12, 10)).astype("float32"), rng.integers(0, 10, 12)
    out["topk"] = (evaluate(M.TopKAccuracy(), scores, labels, loss="sparse_categorical_crossentropy"),
                   M.topk_accuracy(scores, labels))
    print("RESULT " + json.dumps(out))
    """
)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="no Keras distribution API on torch")
def test_metrics_under_two_replicas(child_result):
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(
        os.environ,
        KERAS_BACKEND=keras.backend.backend(),
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        CUDA_VISIBLE_DEVICES="",
    )
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(here)), env.get("PYTHONPATH", "")])
    out = child_result(["-c", SCRIPT, here], timeout=300, env=env)
    assert out.pop("replicas") == 2
    for task, (logs, expected) in out.items():
        for key, value in expected.items():
            assert logs[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (task, key)
