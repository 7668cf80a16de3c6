"""Classification readout: one learned query, softmax cross-entropy."""
import keras
import numpy as np
from keras import ops

from keras4ds.models.readout import AttentionReadout
from keras4ds.readouts.probe import Probe


@keras.saving.register_keras_serializable("keras4ds")
class ClassificationProbe(Probe):
    """Video -> class logits `(B, num_classes)`. Targets `{"label": (B,)}` int class ids.

    The readout sees the features and their change since frame 0 (`motion_features`, on
    by default: motion classes are read from the changes).

    `predict_clips({"video": (B, V, T, H, W, 3)})` scores V clips per video and averages
    their softmax probabilities (multi-clip testing; `clip_windows` cuts the clips).
    """

    task = "classify"

    def __init__(self, encoder, num_classes, frozen=True, readout_index=None, num_params=256,
                 num_heads=4, motion_features=True, **kwargs):
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, motion_features,
                         **kwargs)
        self.num_classes = num_classes
        # The learned query is fed as an external query: AttentionReadout's built-in
        # single-query path squeezes an axis TF graphs cannot prove is 1.
        self.query = self.add_weight(name="query", shape=(1, 1, num_params),
                                     initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.readout = AttentionReadout(num_classes=num_classes, num_params=num_params,
                                        num_heads=num_heads, external_queries=True,
                                        spatial_grid=self.readout_grid, name="readout")
        self.readout.build(self.readout_features_shape, (None, 1, num_params))

    def call(self, inputs):
        features = self.readout_features(inputs)
        query = ops.broadcast_to(self.query, (ops.shape(features)[0], 1, self.num_params))
        return ops.reshape(self.readout(features, query), (-1, self.num_classes))

    def task_loss(self, targets, outputs):
        labels = ops.cast(targets["label"], "int32")
        return ops.mean(ops.sparse_categorical_crossentropy(labels, outputs, from_logits=True))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}

    def predict_clips(self, inputs, batch_size=8):
        """Mean softmax probabilities `(B, C)` over the V clips of each example (multi-clip
        testing). `inputs`: {"video": `(B, V, T, H, W, 3)`} or {"features": `(B, V, N, C)`}."""
        ranks = {"video": 6, "features": 4}
        if not isinstance(inputs, dict) or len(inputs) != 1 or next(iter(inputs)) not in ranks:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError("predict_clips takes {'video': (B, V, T, H, W, 3)} or "
                             f"{{'features': (B, V, N, C)}}; got {got}")
        (key, value), = inputs.items()
        value = np.asarray(value, np.float32)
        if value.ndim != ranks[key]:
            raise ValueError(f"predict_clips: '{key}' needs a clip axis at 1 ({ranks[key]} "
                             f"dimensions); got shape {value.shape}")
        b, v = value.shape[:2]
        logits = self.predict({key: value.reshape(b * v, *value.shape[2:])},
                              batch_size=batch_size, verbose=0)
        probs = np.asarray(ops.convert_to_numpy(ops.softmax(logits, axis=-1)))
        return probs.reshape(b, v, -1).mean(axis=1)


def clip_windows(videos, num_frames, num_clips):
    """`(B, T', H, W, 3)` -> `(B, V, T, H, W, 3)`: V = `num_clips` windows of T = `num_frames`
    frames, starting at frames `round(linspace(0, T' - T, V))` (the first at frame 0, the
    last ending at frame T'; one window = the first T frames)."""
    videos = np.asarray(videos, np.float32)
    if videos.ndim != 5:
        raise ValueError(f"videos must be (B, T, H, W, 3); got {videos.shape}")
    total = videos.shape[1]
    if total < num_frames:
        raise ValueError(f"videos have {total} frames, fewer than a window of {num_frames}")
    if not isinstance(num_clips, int) or not 1 <= num_clips <= total - num_frames + 1:
        raise ValueError(f"num_clips must be an int in [1, {total - num_frames + 1}] (the "
                         f"distinct windows of {num_frames} frames in {total}); got {num_clips!r}")
    starts = np.round(np.linspace(0, total - num_frames, num_clips)).astype(int)
    return np.stack([videos[:, s:s + num_frames] for s in starts], axis=1)
