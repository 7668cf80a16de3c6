"""Point-tracking readout that matches pixel windows decoded from the frozen features."""
import keras
import numpy as np
from keras import ops

from keras4ds.models.patches import patchify, unpatchify
from keras4ds.readouts.pixel_decoder import r_squared, ridge_decoder, with_bias
from keras4ds.readouts.points import VISIBILITY_RULES, point_loss, point_outputs
from keras4ds.readouts.probe import Probe
from keras4ds.readouts.template_matching import TemplateMatcher


@keras.saving.register_keras_serializable("keras4ds")
class TemplatePointProbe(Probe):
    """Video + query points -> tracks, by template matching on pixels decoded from features.

    A linear pixel decoder maps each token's features to its `pt*ph*pw` RGB pixels; it is
    fit in closed form on training videos (`fit_pixel_decoder`, ridge regression; called
    by `train_probe`) and then kept fixed (`trainable=False`). `TemplateMatcher` tracks
    every query on the decoded video (window `radius`, sub-pixel `temperature`, motion
    `prior`; trained too with `train_matcher=True`, which lowered held-out AJ from 0.256
    to 0.254-0.255 in benchmarks/readouts.md). A Dense trains to read the visibility and
    certainty logits from the best match's window cost and distance moved. With
    `frozen=False` the gradient flows through the decoded pixels into the encoder, while
    the decoder stays the one fit on the starting encoder's features.
    `num_params` and `num_heads` are unused (the signature every probe shares).
    Inputs `{"video"|"features", "query_points": (B, Q, 3)}` (t, y, x): t a frame index,
    y, x in [0, 1]. Outputs and targets as `PointTrackingProbe`; loss: TAPIR-style Huber
    + BCE visibility + BCE certainty. A query's output never depends on other queries.
    """

    task = "points"

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 radius=5, temperature=5.0, prior=0.005, train_matcher=False, ridge=1e-3,
                 visibility_rule="visibility", initial_logit=3.0, **kwargs):
        if visibility_rule not in VISIBILITY_RULES:
            raise ValueError(f"visibility_rule must be one of {VISIBILITY_RULES}; "
                             f"got {visibility_rule!r}")
        if kwargs.get("motion_features"):
            raise ValueError("motion_features is for the attention heads; the template head "
                             "decodes pixels from the encoder states directly")
        kwargs.pop("motion_features", None)
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, **kwargs)
        self.radius, self.temperature, self.prior = radius, temperature, prior
        self.ridge, self.visibility_rule = float(ridge), visibility_rule
        self.initial_logit = float(initial_logit)
        self.pixels_per_token = int(np.prod(encoder.patch_size)) * 3
        # Zero until fit: an unfitted decoder gives a flat video, which tracks as static.
        self.pixel_decoder = keras.layers.Dense(self.pixels_per_token, kernel_initializer="zeros",
                                                name="pixel_decoder")
        self.pixel_decoder.build((None, None, self.feature_channels))
        self.pixel_decoder.trainable = False
        self.decoder_fitted = self.add_weight(name="decoder_fitted", shape=(), trainable=False,
                                              initializer="zeros")
        self.matcher = TemplateMatcher(radius, temperature, prior, name="matcher")
        self.matcher.build()
        self.train_matcher = bool(train_matcher)
        self.matcher.trainable = self.train_matcher
        self.visibility = keras.layers.Dense(
            2, kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(self.initial_logit), name="visibility")
        self.visibility.build((None, None, None, 2))

    def fit_pixel_decoder(self, features, videos):
        """Fit the pixel decoder on encoder states `(B, N, C)` (as `input_features` gives
        them) and their videos `(B, T, H, W, 3)` in [0, 1]; returns the decoder's R^2."""
        features = np.asarray(features, np.float32)
        videos = np.asarray(videos, np.float32)
        expected = (self.encoder.num_tokens, self.feature_channels)
        if features.ndim != 3 or features.shape[1:] != expected:
            raise ValueError(f"features must be (B, {expected[0]}, {expected[1]}); got "
                             f"{features.shape}")
        if videos.shape[:1] != features.shape[:1] or videos.shape[-1] != 3:
            raise ValueError(f"videos must be (B, T, H, W, 3) with B = {len(features)}; got "
                             f"{videos.shape}")
        pixels = np.asarray(patchify(videos, self.encoder.patch_size)).reshape(-1, self.pixels_per_token)
        tokens = features.reshape(-1, features.shape[-1])
        weights = ridge_decoder(tokens, pixels, self.ridge)
        self.pixel_decoder.kernel.assign(weights[:-1].astype(np.float32))
        self.pixel_decoder.bias.assign(weights[-1].astype(np.float32))
        self.decoder_fitted.assign(1.0)
        return r_squared(with_bias(tokens) @ weights, pixels)

    def decoded_video(self, inputs):
        """The video as the pixel decoder sees it in the features: `(B, T, H, W, 3)`."""
        pixels = self.pixel_decoder(self.input_features(inputs))
        return unpatchify(pixels, self.encoder.grid, self.encoder.patch_size, 3)

    def hand_made_paths(self) -> list:
        return ["pixel_decoder (ridge-decoded pixels)", "template_matching (window costs)"]

    def call(self, inputs):
        queries = ops.convert_to_tensor(inputs["query_points"], "float32")
        if len(queries.shape) != 3 or queries.shape[-1] != 3:
            raise ValueError(f"query_points must be (B, Q, 3) as (t, y, x); got {tuple(queries.shape)}")
        match = self.matcher(self.decoded_video(inputs), queries)
        cues = ops.stack([ops.log(match["cost"] + 1e-4), match["moved"] / 8.0], axis=-1)
        logits = self.visibility(cues)
        return point_outputs(match["tracks"], logits[..., 0], logits[..., 1], self.visibility_rule)

    def task_loss(self, targets, outputs):
        return point_loss(targets, outputs)

    def _check_decoder(self):
        if float(ops.convert_to_numpy(self.decoder_fitted)) != 1.0:
            raise RuntimeError("the pixel decoder of this TemplatePointProbe is not fit: call "
                               "probe.fit_pixel_decoder(features, videos) first (train_probe "
                               "does), or load weights of a fitted probe")

    def fit(self, *args, **kwargs):
        self._check_decoder()
        return super().fit(*args, **kwargs)

    def predict(self, *args, **kwargs):
        self._check_decoder()
        return super().predict(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        self._check_decoder()
        return super().evaluate(*args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("motion_features")
        return {**config, "radius": self.radius, "temperature": self.temperature,
                "prior": self.prior, "train_matcher": self.train_matcher, "ridge": self.ridge,
                "visibility_rule": self.visibility_rule, "initial_logit": self.initial_logit}
