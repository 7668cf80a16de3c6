"""Readers, tf.data pipelines and procedural 4D scenes.

Modules (``synthetic`` and ``video_io``, which avoid TensorFlow, are loaded with the
package; import the others as you need them):

- ``synthetic``: procedural 4D scenes rendered by numpy ray casting with exact depth,
  cameras, point tracks, boxes and segmentation — ``generate_clip(seed, T, H, W, ...)``.
- ``synthetic_tf``: the scenes as a ``tf.data`` source; ``tfds_synthetic``: a local TFDS
  builder of them (needs ``tensorflow-datasets``).
- ``video_io``: PyAV decoding, clip sampling, official-demo resize, writing videos.
- ``pipelines``: ``tf.data`` from a folder of videos (a bad file is counted and its element
  taken by the next good file) and from TFDS; ``tfrecords``: sharded JPEG-frame TFRecords, written by
  ``tools/write_tfrecords.py`` and read back.
- ``augment``: per-clip crop/scale/flip/colour augmentation that keeps depth, tracks,
  boxes and intrinsics consistent (``recipes/pretrain_mae.py --augment``).
- ``formats``: TAP-Vid pickles, RealEstate10K cameras, ScanNet-style RGB-D sequences.
- ``task_clips``: those formats and class folders of videos as probe clips with the keys
  of ``generate_clip`` — ``task_clips(task, "FORMAT:PATH", T, size)`` (class folders
  need TensorFlow for the file listing).
- ``visualize``: clips drawn with their labels (``tools/draw_clip.py``).

Conventions everywhere: video float32 in [0, 1] ``(T, H, W, 3)``; pixel ``x`` right, ``y``
down, pixel centres at integer + 0.5; ``extrinsics`` world-to-camera (OpenCV axes);
``intrinsics`` in pixels of the returned frames.
"""
from keras4ds.data import synthetic, video_io
from keras4ds.data.synthetic import generate_clip
from keras4ds.data.video_io import load_clip, read_frames, write_video

__all__ = ["generate_clip", "load_clip", "read_frames", "synthetic", "video_io", "write_video"]
