"""Point-tracking readout (TAPIR-style outputs and losses on the 4DS readout)."""
import keras
from keras import ops

from keras4ds.readouts.probe import huber, masked_mean
from keras4ds.readouts.tracking import TrackingProbe

VISIBILITY_RULES = ("tapir", "visibility")


def point_outputs(tracks, vis, cert, visibility_rule):
    """The point heads' output dict; `visible` by `visibility_rule` (see PointTrackingProbe)."""
    if visibility_rule == "tapir":
        visible = ops.sigmoid(vis) * ops.sigmoid(cert) > 0.5
    else:
        visible = vis > 0.0
    return {"tracks": tracks, "visibility_logits": vis, "certainty_logits": cert,
            "visible": visible}


def point_loss(targets, outputs):
    """TAPIR-style Huber + BCE visibility + BCE certainty of a point head's outputs."""
    position, visibility, certainty = tapir_losses(
        outputs["tracks"], outputs["visibility_logits"], outputs["certainty_logits"],
        targets["tracks"], targets["visible"])
    return position + visibility + certainty


def binary_cross_entropy_logits(logits, labels):
    """Elementwise binary cross-entropy of `logits` against `labels` in {0, 1} (stable form)."""
    labels = ops.cast(labels, logits.dtype)
    return ops.maximum(logits, 0.0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


def tapir_losses(pred_tracks, vis_logits, cert_logits, gt_tracks, gt_visible, raster=256.0,
                 huber_delta=4.0, certainty_threshold=6.0):
    """TAPIR-style point losses `(position, visibility, certainty)`.

    Tracks `(B, Q, T, 2)` in [0, 1] units, compared in pixels of a `raster` image: Huber
    (delta `huber_delta` px) of the Euclidean distance on visible points, as tapnet's
    `huber_loss`; BCE of the visibility logit against visibility; BCE of the certainty
    logit against "within `certainty_threshold` px", on visible points.
    """
    visible = ops.cast(gt_visible, pred_tracks.dtype)
    diff = (pred_tracks - gt_tracks) * raster
    sq_dist = ops.sum(diff * diff, axis=-1)
    distance = ops.sqrt(sq_dist + 1e-12)  # the epsilon keeps the gradient finite at 0
    position = masked_mean(huber(distance, huber_delta), visible)
    visibility = ops.mean(binary_cross_entropy_logits(vis_logits, visible))
    within = sq_dist <= certainty_threshold ** 2
    certainty = masked_mean(
        binary_cross_entropy_logits(cert_logits, ops.stop_gradient(ops.cast(within, visible.dtype))),
        visible)
    return position, visibility, certainty


@keras.saving.register_keras_serializable("keras4ds")
class PointTrackingProbe(TrackingProbe):
    """Video + query points -> per-frame positions, visibility and certainty.

    Inputs `{"video"|"features", "query_points": (B, Q, 3)}` as (t, y, x): t a frame
    index, y and x in [0, 1] image units. Each query (its Fourier-encoded (t, y, x) plus
    the features sampled at it) looks for itself in every frame (`TrackingProbe`); its
    output never depends on other queries. Per frame it predicts a displacement, a
    visibility logit and a certainty logit; the track is the query position plus the
    displacement at frame t minus the one at the query frame, so the query frame is
    always exact. `motion_features` (on by default) lets the readout see each token's
    change since frame 0. The untrained head is the static baseline exactly: zero
    offsets, and logits `initial_logit` (visible by either rule).
    Outputs `{"tracks": (B, Q, T, 2)` (x, y) in [0, 1] units, `"visibility_logits"`,
    `"certainty_logits"`: (B, Q, T), `"visible"`: (B, Q, T) bool}`; visible is
    sigmoid(vis) * sigmoid(cert) > 0.5 for `visibility_rule='tapir'` (TAPIR's rule) or
    sigmoid(vis) > 0.5 for 'visibility' (the certainty is then only reported).
    Targets `{"tracks": (B, Q, T, 2), "visible": (B, Q, T)}`. Loss: Huber on positions
    (in pixels of a 256x256 raster, visible points) + BCE visibility + BCE certainty.
    """

    task = "points"
    coordinate_size = 3
    outputs_per_frame = 4

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 num_bands=8, sample_query_features=True, visibility_rule="visibility",
                 initial_logit=3.0, motion_features=True, **kwargs):
        if visibility_rule not in VISIBILITY_RULES:
            raise ValueError(f"visibility_rule must be one of {VISIBILITY_RULES}; "
                             f"got {visibility_rule!r}")
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, num_bands,
                         sample_query_features, output_bias=(0.0, 0.0, initial_logit, initial_logit),
                         motion_features=motion_features, **kwargs)
        self.visibility_rule, self.initial_logit = visibility_rule, float(initial_logit)

    def call(self, inputs):
        queries = ops.convert_to_tensor(inputs["query_points"], "float32")
        if len(queries.shape) != 3 or queries.shape[-1] != 3:
            raise ValueError(f"query_points must be (B, Q, 3) as (t, y, x); got {tuple(queries.shape)}")
        coords = ops.concatenate([queries[..., :1] / max(self.num_frames - 1, 1), queries[..., 1:]], -1)
        out = self.track(self.readout_features(inputs), coords, queries)
        start_xy = ops.stack([queries[..., 2], queries[..., 1]], axis=-1)[:, :, None, :]
        frame = ops.cast(ops.clip(ops.round(queries[..., 0]), 0, self.num_frames - 1), "int32")
        at_query = ops.take_along_axis(out[..., :2], frame[:, :, None, None], axis=2)  # (B, Q, 1, 2)
        moved = out[..., :2] - at_query
        return point_outputs(start_xy + moved, out[..., 2], out[..., 3], self.visibility_rule)

    def task_loss(self, targets, outputs):
        return point_loss(targets, outputs)

    def get_config(self):
        return {**super().get_config(), "visibility_rule": self.visibility_rule,
                "initial_logit": self.initial_logit}
