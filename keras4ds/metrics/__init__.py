"""4D metrics, exact to their reference implementations.

Each metric is a plain numpy function and a stateful `keras.metrics.Metric`
(written with `keras.ops`, so it runs on jax, tensorflow and torch, and keeps
only sums and counts, so it is exact across batches and replicas).  Both run
the same kernel; the definitions and averaging rules are in each module's
docstring.

Bad input raises ValueError naming the argument: the numpy functions check shapes
(rank, sizes, agreement, no empty axis) and values (NaN, ranges); the Keras metrics
check shapes only, on static shapes, so also inside a compiled step, where values
cannot be checked.

| task | numpy function | Keras metric |
| --- | --- | --- |
| point tracking (TAP-Vid) | `tapvid_metrics` | `TapVidMetrics` |
| depth | `depth_metrics` | `DepthMetrics` |
| camera pose | `camera_pose_metrics`, `relative_pose_errors`, `umeyama` | `CameraPoseMetrics` |
| box tracking | `box_iou`, `box_tracking_iou` | `BoxTrackingIoU` |
| classification | `topk_accuracy` | `TopKAccuracy` |
"""

from keras4ds.metrics.boxes import BoxTrackingIoU, box_iou, box_tracking_iou
from keras4ds.metrics.classification import TopKAccuracy, topk_accuracy
from keras4ds.metrics.depth import DepthMetrics, depth_metrics
from keras4ds.metrics.pose import (
    CameraPoseMetrics,
    camera_pose_metrics,
    relative_pose_errors,
    umeyama,
)
from keras4ds.metrics.tapvid import (
    TAPVID_THRESHOLDS,
    TapVidMetrics,
    tapvid_metrics,
    to_tapvid_raster,
)

__all__ = [
    "BoxTrackingIoU",
    "CameraPoseMetrics",
    "DepthMetrics",
    "TAPVID_THRESHOLDS",
    "TapVidMetrics",
    "TopKAccuracy",
    "box_iou",
    "box_tracking_iou",
    "camera_pose_metrics",
    "depth_metrics",
    "relative_pose_errors",
    "tapvid_metrics",
    "to_tapvid_raster",
    "topk_accuracy",
    "umeyama",
]
