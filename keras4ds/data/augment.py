"""Per-clip augmentation that keeps 4D labels consistent (TF ops, for ``tf.data``).

One set of random parameters is drawn per clip (stateless, from a seed) and applied to
every frame and every label:

* **crop + scale**: a random box (area fraction ``crop_scale``, aspect ``crop_aspect``
  relative to the frame's, so ``(1, 1)`` keeps the frame's shape; integer pixel offsets
  and size) resized to ``output_size``. The video is resampled
  bilinearly (antialiased); depth and segmentation by nearest neighbour (the source pixel
  containing each output pixel centre: depths are never blended across edges).
* **horizontal flip** with probability ``flip_prob``.
* **colour**: brightness, contrast (about the clip mean), saturation, hue.

Labels (all optional keys of a ``generate_clip``-style dict):

* ``intrinsics`` become ``F @ A @ K`` with ``A`` the crop/scale and ``F`` the flip
  (``x -> W - x``): a flipped clip has a negative ``fx`` (a mirrored camera), so
  ``intrinsics @ extrinsics`` still projects world points onto the new pixels;
  ``extrinsics`` are unchanged.
* ``tracks`` (N, T, 2) pixel (x, y) move with the same map (pixel centres at +0.5);
  ``visible`` stays True only if the point is inside the new frame and, when a
  ``segmentation`` is given, the new pixel shows the same segment as the old pixel did
  (and, with a ``depth``, a depth within ``depth_tolerance`` of the old pixel's: the
  resampled pixel may show another face of the same object). A visible point's depth
  therefore still matches its camera z, to the generator's tolerance plus this one.
* ``boxes``/``box_visible``: recomputed exactly from the new segmentation when present
  (the pixel-edge box of each object's pixels), otherwise mapped geometrically and
  clipped.
"""
from __future__ import annotations

import math

from keras4ds.data.tf_import import tensorflow as tf

__all__ = ["augment_clip", "augment_dataset", "boxes_from_segmentation"]


def boxes_from_segmentation(seg, num_objects: int):
    """(K, T, 4) normalised [ymin, xmin, ymax, xmax] pixel-edge boxes of ids 1..K in a
    (T, H, W) segmentation, and (K, T) visibility (zeros where invisible)."""
    seg = tf.convert_to_tensor(seg)
    h = tf.shape(seg)[1]
    w = tf.shape(seg)[2]
    ids = tf.range(1, num_objects + 1, dtype=seg.dtype)
    m = tf.equal(seg[None], ids[:, None, None, None])  # (K, T, H, W)
    rows = tf.cast(tf.reduce_any(m, axis=3), tf.int32)  # (K, T, H)
    cols = tf.cast(tf.reduce_any(m, axis=2), tf.int32)  # (K, T, W)
    vis = tf.reduce_any(rows > 0, axis=-1)
    ymin = tf.argmax(rows, axis=-1, output_type=tf.int32)
    ymax = h - tf.argmax(tf.reverse(rows, [-1]), axis=-1, output_type=tf.int32)
    xmin = tf.argmax(cols, axis=-1, output_type=tf.int32)
    xmax = w - tf.argmax(tf.reverse(cols, [-1]), axis=-1, output_type=tf.int32)
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    boxes = tf.stack([tf.cast(ymin, tf.float32) / hf, tf.cast(xmin, tf.float32) / wf,
                      tf.cast(ymax, tf.float32) / hf, tf.cast(xmax, tf.float32) / wf], -1)
    boxes = tf.where(vis[..., None], boxes, tf.zeros_like(boxes))
    return boxes, vis


def _uniform(seed, lo, hi):
    return tf.random.stateless_uniform((), seed, lo, hi, dtype=tf.float32)


def augment_clip(
    clip: dict,
    seed,
    *,
    output_size: tuple[int, int] | None = None,
    crop_scale: tuple[float, float] = (0.5, 1.0),
    crop_aspect: tuple[float, float] = (3 / 4, 4 / 3),
    flip_prob: float = 0.5,
    brightness: float = 0.1,
    contrast: float = 0.2,
    saturation: float = 0.2,
    hue: float = 0.02,
    depth_tolerance: float = 0.03,
    return_params: bool = False,
):
    """Augment one (unbatched) clip dict with one random draw from ``seed`` ((2,) ints).

    ``clip`` needs ``video`` (T, H, W, 3) float in [0, 1]; ``depth``, ``segmentation``,
    ``intrinsics``, ``tracks``, ``visible``, ``boxes``, ``box_visible`` are transformed
    when present, other keys pass through. ``output_size`` defaults to the input size.
    With ``return_params`` also returns the drawn parameters (crop box, flip, colour).
    """
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    seeds = tf.random.experimental.stateless_split(seed, 10)
    video = tf.convert_to_tensor(clip["video"], tf.float32)
    shape = tf.shape(video)
    h, w = shape[1], shape[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    if output_size is None:
        ho, wo = video.shape[1], video.shape[2]
        if ho is None or wo is None:
            raise ValueError("output_size is needed when the clip size is not static")
    else:
        ho, wo = output_size
    hof, wof = float(ho), float(wo)

    # --- one random draw per clip
    area = _uniform(seeds[0], crop_scale[0], crop_scale[1]) * hf * wf
    log_r = _uniform(seeds[1], math.log(crop_aspect[0]), math.log(crop_aspect[1]) + 1e-12)
    ratio = tf.exp(log_r) * wf / hf  # crop width / height, relative to the frame's aspect
    cw = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area * ratio)), tf.int32), 1, w)
    ch = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area / ratio)), tf.int32), 1, h)
    y0 = tf.random.stateless_uniform((), seeds[2], 0, h - ch + 1, dtype=tf.int32)
    x0 = tf.random.stateless_uniform((), seeds[3], 0, w - cw + 1, dtype=tf.int32)
    flip = _uniform(seeds[4], 0.0, 1.0) < flip_prob
    b = _uniform(seeds[5], -brightness, brightness) if brightness else tf.constant(0.0)
    c = _uniform(seeds[6], 1 - contrast, 1 + contrast) if contrast else tf.constant(1.0)
    s = _uniform(seeds[7], 1 - saturation, 1 + saturation) if saturation else tf.constant(1.0)
    hu = _uniform(seeds[8], -hue, hue) if hue else tf.constant(0.0)
    sy = hof / tf.cast(ch, tf.float32)
    sx = wof / tf.cast(cw, tf.float32)
    x0f, y0f = tf.cast(x0, tf.float32), tf.cast(y0, tf.float32)

    out = dict(clip)

    # --- video
    v = video[:, y0:y0 + ch, x0:x0 + cw]
    v = tf.image.resize(v, (ho, wo), method="bilinear", antialias=True)
    v = tf.cond(flip, lambda: tf.reverse(v, [2]), lambda: v)
    if brightness:
        v = v + b
    if contrast:
        mean = tf.reduce_mean(v)
        v = (v - mean) * c + mean
    if saturation or hue:
        v = tf.clip_by_value(v, 0.0, 1.0)
        if saturation:
            v = tf.image.adjust_saturation(v, s)
        if hue:
            v = tf.image.adjust_hue(v, hu)
    out["video"] = tf.ensure_shape(tf.clip_by_value(v, 0.0, 1.0), (None, ho, wo, 3))

    # --- pixel labels: nearest source pixel of each output pixel centre
    qy = y0 + tf.cast(tf.floor((tf.range(ho, dtype=tf.float32) + 0.5) / sy), tf.int32)
    qx = x0 + tf.cast(tf.floor((tf.range(wo, dtype=tf.float32) + 0.5) / sx), tf.int32)
    qy = tf.clip_by_value(qy, y0, y0 + ch - 1)
    qx = tf.clip_by_value(qx, x0, x0 + cw - 1)
    qx = tf.cond(flip, lambda: tf.reverse(qx, [0]), lambda: qx)

    def remap(x):
        return tf.gather(tf.gather(x, qy, axis=1), qx, axis=2)

    for key in ("depth", "segmentation"):
        if key in clip:
            out[key] = remap(tf.convert_to_tensor(clip[key]))

    # --- camera
    if "intrinsics" in clip:
        k = tf.convert_to_tensor(clip["intrinsics"], tf.float32)
        a = tf.stack([tf.stack([sx, 0.0, -x0f * sx]), tf.stack([0.0, sy, -y0f * sy]),
                      tf.constant([0.0, 0.0, 1.0])])
        f = tf.where(flip, tf.constant([[-1.0, 0.0, wof], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
                     tf.eye(3))
        out["intrinsics"] = tf.einsum("ij,jk,tkl->til", f, a, k)

    # --- tracks
    if "tracks" in clip:
        tr = tf.convert_to_tensor(clip["tracks"], tf.float32)
        x = (tr[..., 0] - x0f) * sx
        y = (tr[..., 1] - y0f) * sy
        x = tf.where(flip, wof - x, x)
        out["tracks"] = tf.stack([x, y], -1)
        if "visible" in clip:
            vis = tf.convert_to_tensor(clip["visible"], tf.bool)
            inside = (x >= 0) & (x < wof) & (y >= 0) & (y < hof)
            vis = vis & inside
            if "segmentation" in clip:
                seg_old = tf.convert_to_tensor(clip["segmentation"])
                seg_new = out["segmentation"]
                n = tf.shape(tr)[0]
                t = tf.shape(tr)[1]
                tt = tf.broadcast_to(tf.range(t)[None], (n, t))
                ox = tf.clip_by_value(tf.cast(tf.floor(tr[..., 0]), tf.int32), 0, w - 1)
                oy = tf.clip_by_value(tf.cast(tf.floor(tr[..., 1]), tf.int32), 0, h - 1)
                nx = tf.clip_by_value(tf.cast(tf.floor(x), tf.int32), 0, wo - 1)
                ny = tf.clip_by_value(tf.cast(tf.floor(y), tf.int32), 0, ho - 1)
                old_px = tf.stack([tt, oy, ox], -1)
                new_px = tf.stack([tt, ny, nx], -1)
                vis = vis & tf.equal(tf.gather_nd(seg_old, old_px), tf.gather_nd(seg_new, new_px))
                if "depth" in clip:
                    d_old = tf.gather_nd(tf.convert_to_tensor(clip["depth"])[..., 0], old_px)
                    d_new = tf.gather_nd(out["depth"][..., 0], new_px)
                    vis = vis & (tf.abs(d_new - d_old) <= depth_tolerance * d_old)
            out["visible"] = vis

    # --- boxes
    if "boxes" in clip:
        bx = tf.convert_to_tensor(clip["boxes"], tf.float32)
        if "segmentation" in clip:
            nb, bv = boxes_from_segmentation(out["segmentation"], clip["boxes"].shape[0])
            out["boxes"] = nb
            if "box_visible" in clip:
                out["box_visible"] = bv
        else:
            ymin = tf.clip_by_value((bx[..., 0] * hf - y0f) * sy / hof, 0.0, 1.0)
            xmin = tf.clip_by_value((bx[..., 1] * wf - x0f) * sx / wof, 0.0, 1.0)
            ymax = tf.clip_by_value((bx[..., 2] * hf - y0f) * sy / hof, 0.0, 1.0)
            xmax = tf.clip_by_value((bx[..., 3] * wf - x0f) * sx / wof, 0.0, 1.0)
            xmin, xmax = (tf.where(flip, 1.0 - xmax, xmin), tf.where(flip, 1.0 - xmin, xmax))
            nb = tf.stack([ymin, xmin, ymax, xmax], -1)
            ok = (ymax > ymin) & (xmax > xmin)
            if "box_visible" in clip:
                ok = ok & tf.convert_to_tensor(clip["box_visible"], tf.bool)
                out["box_visible"] = ok
            out["boxes"] = tf.where(ok[..., None], nb, tf.zeros_like(nb))

    if return_params:
        params = {"crop": tf.stack([y0, x0, ch, cw]), "flip": flip, "brightness": b,
                  "contrast": c, "saturation": s, "hue": hu}
        return out, params
    return out


def augment_dataset(ds: tf.data.Dataset, seed: int = 0,
                    num_parallel_calls=tf.data.AUTOTUNE, first_element: int = 0,
                    **kwargs) -> tf.data.Dataset:
    """Map :func:`augment_clip` over a dataset of unbatched clip dicts, one seed per
    element drawn from ``seed`` (deterministic stream); ``first_element``: `ds` starts at
    that element of the stream, so its seeds start there too."""
    if first_element < 0:
        raise ValueError(f"first_element must be >= 0; got {first_element}")
    seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True).skip(first_element)
    return tf.data.Dataset.zip(ds, seeds).map(
        lambda clip, s: augment_clip(clip, s, **kwargs),
        num_parallel_calls=num_parallel_calls, deterministic=True)
