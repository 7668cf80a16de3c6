"""Box-tracking readout: the first-frame box is the query, a box per frame the output."""
import keras
from keras import ops

from keras4ds.readouts.probe import masked_mean
from keras4ds.readouts.tracking import TrackingProbe


@keras.saving.register_keras_serializable("keras4ds")
class BoxTrackingProbe(TrackingProbe):
    """Video + first-frame boxes -> the boxes in every frame.

    Inputs `{"video"|"features", "query_boxes": (B, K, 4)}` [ymin, xmin, ymax, xmax] in
    [0, 1] units, the objects' boxes in frame 0. Each box (Fourier-encoded, plus the
    frame-0 features at its centre) looks for its object in every frame
    (`TrackingProbe`); boxes never mix. Per frame the head predicts an offset from the
    query box, so the untrained head is the first-frame-box baseline exactly.
    Outputs `(B, K, T, 4)`. Targets `{"boxes": (B, K, T, 4), "box_visible": (B, K, T)}`.
    Loss: L1 + `giou_weight` * (1 - GIoU), on frames where the object is visible, for
    objects visible in frame 0.
    """

    task = "boxes"
    coordinate_size = 4
    outputs_per_frame = 4

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 num_bands=8, giou_weight=1.0, sample_query_features=True, **kwargs):
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, num_bands,
                         sample_query_features, **kwargs)
        self.giou_weight = giou_weight

    def call(self, inputs):
        boxes = ops.convert_to_tensor(inputs["query_boxes"], "float32")
        if len(boxes.shape) != 3 or boxes.shape[-1] != 4:
            raise ValueError(f"query_boxes must be (B, K, 4); got {tuple(boxes.shape)}")
        centre = ops.stack([ops.zeros_like(boxes[..., 0]), (boxes[..., 0] + boxes[..., 2]) / 2,
                            (boxes[..., 1] + boxes[..., 3]) / 2], axis=-1)
        return boxes[:, :, None, :] + self.track(self.readout_features(inputs), boxes, centre)

    def task_loss(self, targets, outputs):
        visible = ops.cast(targets["box_visible"], "bool")
        mask = ops.logical_and(visible, visible[:, :, :1])
        l1, giou = box_losses(outputs, targets["boxes"], mask)
        return l1 + self.giou_weight * giou

    def get_config(self):
        return {**super().get_config(), "giou_weight": self.giou_weight}


def generalized_iou(pred, gt):
    """GIoU of `[..., 4]` boxes [ymin, xmin, ymax, xmax] (empty boxes have area 0)."""
    def area(b):
        return ops.maximum(b[..., 2] - b[..., 0], 0.0) * ops.maximum(b[..., 3] - b[..., 1], 0.0)

    inter = (ops.maximum(ops.minimum(pred[..., 2], gt[..., 2]) - ops.maximum(pred[..., 0], gt[..., 0]), 0.0)
             * ops.maximum(ops.minimum(pred[..., 3], gt[..., 3])
                           - ops.maximum(pred[..., 1], gt[..., 1]), 0.0))
    union = area(pred) + area(gt) - inter
    hull = ((ops.maximum(pred[..., 2], gt[..., 2]) - ops.minimum(pred[..., 0], gt[..., 0]))
            * (ops.maximum(pred[..., 3], gt[..., 3]) - ops.minimum(pred[..., 1], gt[..., 1])))
    iou = inter / ops.maximum(union, 1e-7)
    return iou - (hull - union) / ops.maximum(hull, 1e-7)


def box_losses(pred, gt, mask):
    """`(L1, 1 - GIoU)` of `(B, K, T, 4)` boxes over frames where `mask` `(B, K, T)`."""
    l1 = masked_mean(ops.sum(ops.abs(pred - gt), axis=-1), mask)
    return l1, masked_mean(1.0 - generalized_iou(pred, gt), mask)
