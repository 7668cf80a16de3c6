"""Point-tracking readout (TAPIR-style outputs and losses on the 4DS readout)."""
from keras import ops

from keras4ds.models.readout import AttentionReadout
from keras4ds.readouts import losses
from keras4ds.readouts.fourier import FourierQueryEncoder
from keras4ds.readouts.probe import Probe, zero_init_head
from keras4ds.readouts.query_features import QueryFeatureProjection, sample_features


class PointTrackingProbe(Probe):
    """Video + query points -> per-frame positions, visibility and certainty.

    Inputs `{"video"|"features", "query_points": (B, Q, 3)}` as (t, y, x): t a frame
    index, y and x in [0, 1] image units. Queries are Fourier-encoded and turned into
    external queries of the readout by an MLP; each query attends to the features only,
    so its output never depends on other queries. With `sample_query_features` (default)
    the readout features at the query point (bilinear on the token grid of its frame) are
    projected and added to the query, so it knows what it looks for. Per frame it predicts an offset from
    the query position (the head starts at the static-point answer), a visibility logit
    and a certainty logit. Outputs `{"tracks": (B, Q, T, 2)` (x, y) in [0, 1] units,
    `"visibility_logits"`, `"certainty_logits"`: (B, Q, T), `"visible"`: (B, Q, T) bool
    (sigmoid(vis) * sigmoid(cert) > 0.5)}`.
    Targets `{"tracks": (B, Q, T, 2), "visible": (B, Q, T)}`. Loss: Huber on positions
    (in pixels of a 256x256 raster, visible points) + BCE visibility + BCE certainty.
    """

    task = "points"

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 num_bands=8, sample_query_features=True, **kwargs):
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, **kwargs)
        self.num_frames = encoder.num_frames
        self.query_encoder = FourierQueryEncoder(num_params, num_bands, name="query_encoder")
        self.query_encoder.build((None, None, 3))
        self.sample_query_features = sample_query_features
        if sample_query_features:
            self.query_features = QueryFeatureProjection(num_params, name="query_features")
            self.query_features.build((None, None, self.feature_channels))
        self.readout = AttentionReadout(num_classes=4 * self.num_frames, num_params=num_params,
                                        num_heads=num_heads, external_queries=True, name="readout")
        self.readout.build(self.readout_features_shape, (None, None, num_params))
        zero_init_head(self.readout)

    def call(self, inputs):
        queries = ops.convert_to_tensor(inputs["query_points"], "float32")
        if len(queries.shape) != 3 or queries.shape[-1] != 3:
            raise ValueError(f"query_points must be (B, Q, 3) as (t, y, x); got {tuple(queries.shape)}")
        coords = ops.concatenate([queries[..., :1] / max(self.num_frames - 1, 1), queries[..., 1:]], -1)
        features = self.readout_features(inputs)
        query = self.query_encoder(coords)
        if self.sample_query_features:
            query = query + self.query_features(
                sample_features(features, queries, self.encoder.grid[1:]))
        out = self.readout(features, query)
        shape = ops.shape(queries)  # one query comes back squeezed: reshape restores Q
        out = ops.reshape(out, (shape[0], shape[1], self.num_frames, 4))
        start_xy = ops.stack([queries[..., 2], queries[..., 1]], axis=-1)[:, :, None, :]
        vis, cert = out[..., 2], out[..., 3]
        return {"tracks": start_xy + out[..., :2], "visibility_logits": vis,
                "certainty_logits": cert,
                "visible": ops.sigmoid(vis) * ops.sigmoid(cert) > 0.5}

    def task_loss(self, targets, outputs):
        position, visibility, certainty = losses.tapir_losses(
            outputs["tracks"], outputs["visibility_logits"], outputs["certainty_logits"],
            targets["tracks"], targets["visible"])
        return position + visibility + certainty
