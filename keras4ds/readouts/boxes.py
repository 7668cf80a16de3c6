"""Box-tracking readout: the first-frame box is the query, a box per frame the output."""
from keras import ops

from keras4ds.models.readout import AttentionReadout
from keras4ds.readouts import losses
from keras4ds.readouts.fourier import FourierQueryEncoder
from keras4ds.readouts.probe import Probe, zero_init_head
from keras4ds.readouts.query_features import QueryFeatureProjection, sample_features


class BoxTrackingProbe(Probe):
    """Video + first-frame boxes -> the boxes in every frame.

    Inputs `{"video"|"features", "query_boxes": (B, K, 4)}` [ymin, xmin, ymax, xmax] in
    [0, 1] units, the objects' boxes in frame 0. Each box is Fourier-encoded into an
    external query (queries never mix); with `sample_query_features` (default) the frame-0
    readout features at the box centre are projected and added to it; per frame the head predicts an offset from the
    query box (it starts at the first-frame-box answer). Outputs `(B, K, T, 4)`.
    Targets `{"boxes": (B, K, T, 4), "box_visible": (B, K, T)}`. Loss: L1 +
    `giou_weight` * (1 - GIoU), on frames where the object is visible, for objects visible
    in frame 0.
    """

    task = "boxes"

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 num_bands=8, giou_weight=1.0, sample_query_features=True, **kwargs):
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, **kwargs)
        self.num_frames, self.giou_weight = encoder.num_frames, giou_weight
        self.query_encoder = FourierQueryEncoder(num_params, num_bands, name="query_encoder")
        self.query_encoder.build((None, None, 4))
        self.sample_query_features = sample_query_features
        if sample_query_features:
            self.query_features = QueryFeatureProjection(num_params, name="query_features")
            self.query_features.build((None, None, self.feature_channels))
        self.readout = AttentionReadout(num_classes=4 * self.num_frames, num_params=num_params,
                                        num_heads=num_heads, external_queries=True, name="readout")
        self.readout.build(self.readout_features_shape, (None, None, num_params))
        zero_init_head(self.readout)

    def call(self, inputs):
        boxes = ops.convert_to_tensor(inputs["query_boxes"], "float32")
        if len(boxes.shape) != 3 or boxes.shape[-1] != 4:
            raise ValueError(f"query_boxes must be (B, K, 4); got {tuple(boxes.shape)}")
        features = self.readout_features(inputs)
        query = self.query_encoder(boxes)
        if self.sample_query_features:
            centre = ops.stack([ops.zeros_like(boxes[..., 0]), (boxes[..., 0] + boxes[..., 2]) / 2,
                                (boxes[..., 1] + boxes[..., 3]) / 2], axis=-1)
            query = query + self.query_features(
                sample_features(features, centre, self.encoder.grid[1:]))
        out = self.readout(features, query)
        shape = ops.shape(boxes)  # one query comes back squeezed: reshape restores K
        out = ops.reshape(out, (shape[0], shape[1], self.num_frames, 4))
        return boxes[:, :, None, :] + out

    def task_loss(self, targets, outputs):
        visible = ops.cast(targets["box_visible"], "bool")
        mask = ops.logical_and(visible, visible[:, :, :1])
        l1, giou = losses.box_losses(outputs, targets["boxes"], mask)
        return l1 + self.giou_weight * giou
