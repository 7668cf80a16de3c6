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

    `predict_clips(videos)` scores several clips per video `(B, V, T, H, W, 3)` and
    averages their softmax probabilities (multi-clip testing).
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
                                        num_heads=num_heads, external_queries=True, name="readout")
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

    def predict_clips(self, videos, batch_size=8):
        """`(B, V, T, H, W, 3)` -> mean softmax probabilities over the V clips, `(B, C)`."""
        videos = np.asarray(videos, np.float32)
        if videos.ndim != 6:
            raise ValueError(f"videos must be (B, V, T, H, W, 3); got {videos.shape}")
        b, v = videos.shape[:2]
        logits = self.predict({"video": videos.reshape(b * v, *videos.shape[2:])},
                              batch_size=batch_size, verbose=0)
        probs = np.asarray(ops.convert_to_numpy(ops.softmax(logits, axis=-1)))
        return probs.reshape(b, v, -1).mean(axis=1)
