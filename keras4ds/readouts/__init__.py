"""Readout heads on 4DS encoders, probing modes and `train_probe`.

One module per task, its parts inside it:

| task | module | probe | inputs | outputs |
| --- | --- | --- | --- | --- |
| depth | `depth` | `DepthProbe` (+ `DPTHead`) | video | `(B, T, H, W, 1)` depth |
| pose | `pose` | `PoseProbe` (+ `GlobalMotion`) | video | per-frame pose relative to frame 0 |
| points | `points` | `PointTrackingProbe` | video, query points (t, y, x) | tracks, visibility |
| points | `template_points` | `TemplatePointProbe` (yardstick) | as `PointTrackingProbe` | as it |
| boxes | `boxes` | `BoxTrackingProbe` | video, first-frame boxes | `(B, K, T, 4)` boxes |
| classify | `classify` | `ClassificationProbe` | video | `(B, C)` logits |

`tracking` holds what the point and box heads share (`TrackingProbe`, the Fourier query
encoding, features sampled at the queries); `template_points` the pixel decoder and
`TemplateMatcher` of its yardstick. The probing machinery:

| module | holds |
| --- | --- |
| `probe` | the `Probe` base, `save_readout` / `load_readout`, loss pieces the heads share |
| `features` | which hidden states a readout reads, `compute_features`, `cache_features` |
| `batches` | `probe_batch`: generated clips -> `(inputs, targets)`; `TASKS` |
| `train` | `make_probe`, `PROBES`, `train_probe`, `TwoRateAdam` (fine-tuning) |
| `evaluate` | `task_metrics`, `baseline_predictions`, `bootstrap_spread` |

For points, `make_probe(head='attention')` builds `PointTrackingProbe` (what the recipes and
the study use) and `head='template'` (its default) the `TemplatePointProbe` yardstick.

Every probe takes `(encoder, frozen=True, readout_index=None, num_params, num_heads,
motion_features)` and has `get_config`/`from_config` (the encoder's config included),
trains with `compile(optimizer)` + `fit(inputs, targets)` on dicts from `probe_batch`,
and accepts cached encoder states as `inputs["features"]` instead of `inputs["video"]`.
"""
from keras4ds.readouts.batches import TASKS, probe_batch, relative_poses
from keras4ds.readouts.boxes import BoxTrackingProbe
from keras4ds.readouts.classify import ClassificationProbe
from keras4ds.readouts.depth import DepthProbe, DPTHead
from keras4ds.readouts.evaluate import baseline_predictions, task_metrics
from keras4ds.readouts.features import cache_features, compute_features
from keras4ds.readouts.points import PointTrackingProbe
from keras4ds.readouts.pose import PoseProbe, pose_matrices
from keras4ds.readouts.probe import Probe, load_readout, save_readout
from keras4ds.readouts.template_points import TemplatePointProbe
from keras4ds.readouts.tracking import FourierQueryEncoder, TrackingProbe
from keras4ds.readouts.train import PROBES, TwoRateAdam, make_probe, train_probe

__all__ = [
    "BoxTrackingProbe", "ClassificationProbe", "DPTHead", "DepthProbe", "FourierQueryEncoder",
    "PROBES", "PointTrackingProbe", "PoseProbe", "Probe", "TASKS", "TemplatePointProbe",
    "TrackingProbe", "TwoRateAdam",
    "baseline_predictions", "cache_features", "compute_features", "make_probe",
    "load_readout", "pose_matrices", "probe_batch", "relative_poses", "save_readout",
    "task_metrics", "train_probe",
]
