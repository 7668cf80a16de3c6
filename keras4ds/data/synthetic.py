"""Procedural 4D scenes with exact ground truth, rendered by numpy ray casting.

A scene is a textured room (floor, walls, ceiling: the background, id 0) holding ``K``
textured objects (spheres, boxes and thin double-sided rectangular planes, ids ``1..K``)
that move and spin, filmed by a moving pinhole camera (static, orbit, dolly, hand-held
shake, or a combination). Every pixel is one analytic ray–surface intersection
(ray–sphere, ray–box slab test, ray–plane), vectorised over all frames at once, so depth,
segmentation, point tracks and boxes are exact, not estimated.

Conventions (used everywhere in ``keras4ds.data``):

* **Pixels**: ``x`` to the right (columns), ``y`` down (rows). Pixel ``(row i, col j)``
  covers ``[j, j+1) x [i, i+1)`` and its centre is ``(j + 0.5, i + 0.5)``. The colour, depth
  and segmentation of a pixel are those of the ray through its centre.
* **Camera**: OpenCV style, camera ``x`` right, ``y`` down, ``z`` forward.
  ``intrinsics = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (with ``cx = W/2, cy = H/2``);
  ``extrinsics`` is world-to-camera ``[[R, t], [0, 0, 0, 1]]``. A world point ``X``
  projects to ``(u, v, w) = intrinsics @ (extrinsics @ [X, 1])[:3]``, pixel
  ``(x, y) = (u/w, v/w)``, and its depth is ``w`` (its camera-space z).
* **World**: y up, the floor is the plane y = 0, units are metres.
* **Depth**: distance along the camera z axis (not along the ray), metres.
* **Tracks**: ``tracks[n, t] = (x, y)`` is the exact projection of surface point ``n`` at
  frame ``t`` (also when it is hidden or off-screen). ``visible[n, t]`` is True iff the
  point is in front of the camera and inside the image (``0 <= x < W``, ``0 <= y < H``),
  nothing lies in front of it on the exact ray through ``(x, y)`` (an analytic
  first-hit test), and the z-buffer agrees at its pixel ``(floor(y), floor(x))``: the
  segmentation there is the point's object id and the depth there equals the point's
  camera z up to ``depth_tolerance * z`` plus the change of depth of the point's own
  surface over half a pixel (see ``pixel_depth_tolerance``; exact for planar faces, large
  only on surfaces seen at grazing angles). So a visible point's rendered depth equals its
  camera z, and an invisible one is off-screen, behind the camera, occluded on its exact
  ray, or covered at its pixel by another surface (within half a pixel of a silhouette). Each track is a
  surface point hit by a camera ray in some frame; it is visible in at least one frame.
* **Boxes**: ``boxes[k-1, t] = [ymin, xmin, ymax, xmax]`` normalised by ``(H, W, H, W)``,
  the pixel-edge box of the pixels whose segmentation is ``k``:
  ``ymin = min_row / H``, ``ymax = (max_row + 1) / H`` (same for x). ``box_visible`` is
  False (and the box zeros) when no pixel of the object is visible.

``generate_clip`` is deterministic for a seed (an int, or a sequence of ints).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_OPTIONS",
    "CAMERA_MOTIONS",
    "OBJECT_TYPES",
    "generate_clip",
    "generate_clip_with_scene",
    "clip_signature",
    "Scene",
    "SceneObject",
    "cast_rays",
    "pixel_depth_tolerance",
]

CAMERA_MOTIONS = ("static", "orbit", "dolly", "shake")
OBJECT_TYPES = ("sphere", "box", "plane")
TEXTURES = ("rich", "noise", "checker", "flat")

DEFAULT_OPTIONS: dict[str, Any] = {
    # Number of objects K (ids 1..K). Fixed for a configuration so batches stack.
    "num_objects": 4,
    # Object kinds drawn uniformly for each object.
    "object_types": OBJECT_TYPES,
    # Number of point tracks N.
    "num_tracks": 256,
    # Fraction of tracks sampled on objects (the rest anywhere, background included).
    "track_object_fraction": 0.5,
    # "random" (one of static/orbit/dolly/shake per seed, shake added half of the time),
    # one of CAMERA_MOTIONS, or several joined by "+" ("orbit+shake") or a sequence.
    "camera_motion": "random",
    # "linear" (constant velocity and spin) or "static".
    "object_motion": "linear",
    # Multiplies every object and camera speed.
    "motion_scale": 1.0,
    # Put the last object between camera and scene, sweeping across the view.
    "occluder": True,
    # "rich" (multi-scale sinusoid noise times a 3D checker), "noise", "checker", "flat".
    "texture": "rich",
    # Multiplies texture frequencies.
    "texture_scale": 1.0,
    # 0: every object and the room get textures of their own. N > 0: objects take one of N
    # fixed textures and the room one of N fixed room textures, the same in every scene, so
    # the look of the world recurs across clips (as places and things do in real video)
    # and filling in a masked surface pays for knowing which surface it is and where.
    "texture_bank": 0,
    # Lambertian shading from one directional light (texture stays attached to surfaces).
    "shading": True,
    # Horizontal field of view in degrees: a number, or a (low, high) range drawn per seed.
    "fov_degrees": (40.0, 60.0),
    # Relative depth tolerance of the z-buffer visibility test.
    "depth_tolerance": 0.01,
    # Room: floor y=0, walls at |x|, |z| = room_half_width, ceiling at room_height.
    "room_half_width": 8.0,
    "room_height": 6.0,
}

_NEAR = 1e-3
_EXACT_EPS = 1e-4  # relative slack of the exact first-hit test (float32 rounding)


def _rot_points(rot: np.ndarray, p: np.ndarray, transpose: bool = False) -> np.ndarray:
    """``rot[t] @ p[n, t]`` (or ``rot[t].T @ p[n, t]``) for rot (T, 3, 3), p (N, T, 3)."""
    r = rot.transpose(0, 2, 1) if not transpose else rot
    # (T, N, 3) @ (T, 3, 3): batched BLAS matmul, much faster than einsum here.
    return np.matmul(p.transpose(1, 0, 2), r).transpose(1, 0, 2)


def _rot_rows(rot_rows: np.ndarray, p: np.ndarray, transpose: bool = False) -> np.ndarray:
    """Per-row rotation: ``rot_rows[n] @ p[n]`` (or transposed) for (n, 3, 3) and (n, 3)."""
    if transpose:  # out_i = sum_j R[j, i] p_j
        return p[:, 0, None] * rot_rows[:, 0, :] + p[:, 1, None] * rot_rows[:, 1, :] \
            + p[:, 2, None] * rot_rows[:, 2, :]
    return p[:, 0, None] * rot_rows[:, :, 0] + p[:, 1, None] * rot_rows[:, :, 1] \
        + p[:, 2, None] * rot_rows[:, :, 2]


@dataclasses.dataclass
class Texture:
    """Solid (3D) procedural texture: colour is a function of a surface point's local
    coordinates, so it moves with the object."""

    freqs: np.ndarray  # (3, M) float32
    phases: np.ndarray  # (M,) float32
    amps: np.ndarray  # (M, 3) float32
    base: np.ndarray  # (3,) float32
    checker_freq: float
    checker_offset: np.ndarray  # (3,) float32
    checker_contrast: float
    kind: str

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """Colours (n, 3) in [0, 1] of local points ``p`` (n, 3)."""
        if self.kind == "flat":
            return np.broadcast_to(self.base, p.shape).astype(np.float32)
        col = None
        if self.kind in ("rich", "noise"):
            s = np.sin(p @ self.freqs + self.phases)
            col = s @ self.amps
            col += self.base
        if self.kind in ("rich", "checker"):
            q = np.floor((p + self.checker_offset) * self.checker_freq)
            odd = (q.sum(axis=1) % 2.0)[:, None]
            if col is None:
                col = np.where(odd > 0.5, self.base, 1.0 - self.base).astype(np.float32)
            else:
                col *= 1.0 - self.checker_contrast * odd
        return np.clip(col, 0.0, 1.0, out=col)


@dataclasses.dataclass
class SceneObject:
    """One object. ``rotation[t]`` maps local to world: ``X = rotation[t] @ p + center[t]``.

    ``size``: sphere ``(r, r, r)``; box half extents; plane half extents ``(a, b, 0)`` of a
    rectangle in its local z = 0 plane.
    """

    kind: str
    object_id: int
    center: np.ndarray  # (T, 3) float64
    rotation: np.ndarray  # (T, 3, 3) float64
    size: np.ndarray  # (3,) float64
    texture: Texture

    def to_world(self, p_local: np.ndarray) -> np.ndarray:
        """(N, 3) local points -> (N, T, 3) world points at every frame."""
        p = np.broadcast_to(p_local[:, None, :], (p_local.shape[0],) + self.center.shape)
        return _rot_points(self.rotation, p) + self.center[None]


@dataclasses.dataclass
class Scene:
    """Everything needed to re-render or check a clip."""

    objects: list[SceneObject]
    room_lo: np.ndarray  # (3,)
    room_hi: np.ndarray  # (3,)
    room_texture: Texture
    light: np.ndarray  # (3,) unit vector towards the light, world
    shading: bool
    camera_motion: tuple[str, ...]
    intrinsics: np.ndarray  # (T, 3, 3) float64
    extrinsics: np.ndarray  # (T, 4, 4) float64
    height: int
    width: int

    @property
    def num_frames(self) -> int:
        return self.extrinsics.shape[0]

    @property
    def camera_centers(self) -> np.ndarray:
        r = self.extrinsics[:, :3, :3]
        t = self.extrinsics[:, :3, 3]
        return -np.einsum("tji,tj->ti", r, t)


# ----------------------------------------------------------------------------------------
# Scene sampling
# ----------------------------------------------------------------------------------------


def _parse_options(options: dict) -> dict:
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(
            f"Unknown synthetic scene option(s) {sorted(unknown)}; "
            f"valid options: {sorted(DEFAULT_OPTIONS)}"
        )
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options)
    if int(opts["num_objects"]) < 0:
        raise ValueError("num_objects must be >= 0")
    if int(opts["num_tracks"]) < 0:
        raise ValueError("num_tracks must be >= 0")
    types = opts["object_types"]
    if isinstance(types, str):
        types = (types,)
    types = tuple(types)
    for t in types:
        if t not in OBJECT_TYPES:
            raise ValueError(f"object type {t!r} not in {OBJECT_TYPES}")
    if not types:
        raise ValueError("object_types is empty")
    opts["object_types"] = types
    if opts["texture"] not in TEXTURES:
        raise ValueError(f"texture {opts['texture']!r} not in {TEXTURES}")
    if int(opts["texture_bank"]) < 0:
        raise ValueError(f"texture_bank must be >= 0, got {opts['texture_bank']!r}")
    if opts["object_motion"] not in ("linear", "static"):
        raise ValueError("object_motion must be 'linear' or 'static'")
    cm = opts["camera_motion"]
    if cm != "random":
        parts = tuple(cm.split("+")) if isinstance(cm, str) else tuple(cm)
        for p in parts:
            if p not in CAMERA_MOTIONS:
                raise ValueError(
                    f"camera motion {p!r} not in {CAMERA_MOTIONS} (or 'random')"
                )
        opts["camera_motion"] = parts
    return opts


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _axis_angle(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) about unit ``axis`` by ``angles`` (T,)."""
    x, y, z = axis
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    s = np.sin(angles)[:, None, None]
    c = np.cos(angles)[:, None, None]
    return np.eye(3)[None] + s * k[None] + (1 - c) * (k @ k)[None]


def _random_texture(
    rng: np.random.Generator, kind: str, scale: float, strength: float = 1.0
) -> Texture:
    m = 10
    # Multi-scale: wavelengths from about 2 m down to about 15 cm, 1/sqrt(f) amplitudes.
    mags = np.exp(rng.uniform(np.log(3.0), np.log(40.0), size=m))
    dirs = rng.normal(size=(3, m))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    freqs = dirs * mags * scale
    phases = rng.uniform(0, 2 * np.pi, size=m)
    decay = (mags / 3.0) ** -0.35
    lum = rng.normal(size=(m, 1)) * 0.28
    chroma = rng.normal(size=(m, 3)) * 0.10
    amps = (lum + chroma) * decay[:, None] * np.sqrt(2.0 / m) * strength
    base = rng.uniform(0.15, 0.85, size=3)
    if strength < 1.0:  # room: calmer, lighter colours
        base = 0.35 + 0.35 * rng.random(3)
    return Texture(
        freqs=freqs.astype(np.float32),
        phases=phases.astype(np.float32),
        amps=amps.astype(np.float32),
        base=base.astype(np.float32),
        checker_freq=float(rng.uniform(2.0, 5.0) * scale),
        checker_offset=rng.uniform(0, 1, size=3).astype(np.float32),
        checker_contrast=float(rng.uniform(0.2, 0.45) * strength),
        kind=kind,
    )


_TEXTURE_BANK_SEED = 4_000_000


def _scene_texture(rng, opts: dict, room: bool) -> Texture:
    """A new random texture, or (``texture_bank`` N > 0) one of the N fixed ones."""
    kind, scale = opts["texture"], float(opts["texture_scale"])
    if room:
        scale, strength = scale * 0.5, 0.6
    else:
        strength = 1.0
    bank = int(opts["texture_bank"])
    if bank > 0:
        rng = np.random.default_rng([_TEXTURE_BANK_SEED, int(room), int(rng.integers(bank))])
    return _random_texture(rng, kind, scale, strength=strength)


def _look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """World-to-camera 4x4 (OpenCV axes) for each frame; inputs (T, 3)."""
    f = target - eye
    f /= np.linalg.norm(f, axis=-1, keepdims=True)
    r = np.cross(f, up)
    r /= np.linalg.norm(r, axis=-1, keepdims=True)
    d = np.cross(f, r)
    rot = np.stack([r, d, f], axis=1)  # rows: camera x, y, z in world
    ext = np.zeros((eye.shape[0], 4, 4))
    ext[:, :3, :3] = rot
    ext[:, :3, 3] = -np.einsum("tij,tj->ti", rot, eye)
    ext[:, 3, 3] = 1.0
    return ext


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, dims: int, period: float):
    """Smooth zero-mean noise (len(t), dims): a few random sinusoids."""
    out = np.zeros((t.shape[0], dims))
    for _ in range(3):
        freq = rng.uniform(0.5, 2.0) / period
        phase = rng.uniform(0, 2 * np.pi, size=dims)
        out += np.sin(2 * np.pi * freq * t[:, None] + phase) / 3.0
    return out


def _sample_scene(rng, num_frames: int, height: int, width: int, opts: dict) -> Scene:
    t = np.arange(num_frames, dtype=np.float64)
    ms = float(opts["motion_scale"])

    # Camera.
    cm = opts["camera_motion"]
    if cm == "random":
        cm = (str(rng.choice(["static", "orbit", "dolly"])),)
        if rng.random() < 0.5:
            cm = cm + ("shake",)
        if cm == ("static",) and rng.random() < 0.5:
            cm = ("shake",)
    fov = opts["fov_degrees"]
    if np.ndim(fov) == 0:
        fov = float(fov)
    else:
        fov = float(rng.uniform(fov[0], fov[1]))
    fx = width / (2.0 * math.tan(math.radians(fov) / 2.0))
    k = np.array([[fx, 0.0, width / 2.0], [0.0, fx, height / 2.0], [0.0, 0.0, 1.0]])
    intr = np.broadcast_to(k, (num_frames, 3, 3)).copy()

    azimuth0 = rng.uniform(0, 2 * np.pi)
    dist0 = rng.uniform(5.5, 7.0)
    cam_h = rng.uniform(1.0, 3.0)
    target = np.array([rng.uniform(-0.3, 0.3), rng.uniform(0.4, 0.8), rng.uniform(-0.3, 0.3)])
    azimuth = np.full(num_frames, azimuth0)
    dist = np.full(num_frames, dist0)
    if "orbit" in cm:
        w = rng.uniform(1.5, 4.0) * rng.choice([-1, 1]) * ms
        azimuth = azimuth0 + np.radians(w) * t
    if "dolly" in cm:
        speed = rng.uniform(0.04, 0.1) * ms * rng.choice([-1, 1], p=[0.7, 0.3])
        total = np.clip(speed * max(num_frames - 1, 1), -1.5, 1.5)
        dist = dist0 - total * t / max(num_frames - 1, 1)
    eye = np.stack(
        [
            target[0] + dist * np.cos(azimuth),
            np.full(num_frames, cam_h),
            target[2] + dist * np.sin(azimuth),
        ],
        axis=1,
    )
    tgt = np.broadcast_to(target, (num_frames, 3)).copy()
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), (num_frames, 3)).copy()
    if "shake" in cm:
        eye += 0.04 * ms * _smooth_noise(rng, t, 3, 8.0)
        tgt += 0.06 * ms * _smooth_noise(rng, t, 3, 6.0)
        up[:, 0] += 0.015 * ms * _smooth_noise(rng, t, 1, 10.0)[:, 0]
    ext = _look_at(eye, tgt, up)

    # Objects.
    objects = []
    kinds = opts["object_types"]
    num_objects = int(opts["num_objects"])
    moving = opts["object_motion"] == "linear"
    cam0 = eye[0]
    for i in range(num_objects):
        kind = kinds[int(rng.integers(len(kinds)))]
        is_occluder = bool(opts["occluder"]) and i == num_objects - 1 and num_objects > 1
        if kind == "sphere":
            r = rng.uniform(0.4, 0.9) * (0.75 if is_occluder else 1.0)
            size = np.array([r, r, r])
        elif kind == "box":
            size = rng.uniform(0.25, 0.75, size=3) * (0.8 if is_occluder else 1.0)
        else:
            size = np.array([rng.uniform(0.4, 1.0), rng.uniform(0.4, 1.0), 0.0])
            size *= 0.8 if is_occluder else 1.0
        extent = float(np.linalg.norm(size))
        if is_occluder:
            frac = rng.uniform(0.45, 0.6)
            c0 = cam0 + frac * (target - cam0)
            view = target - cam0
            side = np.cross(view, [0.0, 1.0, 0.0])
            side /= np.linalg.norm(side)
            # Start to one side, cross to the other.
            span = rng.uniform(0.8, 1.6)
            direction = rng.choice([-1, 1])
            c0 = c0 - direction * side * span * 0.5
            vel = direction * side * span / max(num_frames - 1, 1)
            vel = vel + rng.normal(size=3) * 0.005
            c0[1] = max(c0[1], 0.2 + size[1] * 0.5)
        else:
            rad = 2.2 * math.sqrt(rng.random())
            ang = rng.uniform(0, 2 * np.pi)
            c0 = np.array([rad * math.cos(ang), 0.0, rad * math.sin(ang)])
            c0[1] = extent * rng.uniform(0.5, 1.0) + rng.uniform(0.0, 0.8)
            heading = rng.uniform(0, 2 * np.pi)
            speed = rng.uniform(0.02, 0.08)
            vel = np.array(
                [speed * math.cos(heading), rng.uniform(-0.01, 0.01), speed * math.sin(heading)]
            )
        if not moving:
            vel = np.zeros(3)
        center = c0[None] + ms * vel[None] * t[:, None]
        rot0 = _random_rotation(rng)
        if kind == "plane" and not is_occluder:
            # Mostly upright cards so that they are seen well.
            rot0 = _axis_angle(np.array([0.0, 1.0, 0.0]), np.array([rng.uniform(0, 2 * np.pi)]))[0]
            tilt = _axis_angle(np.array([1.0, 0.0, 0.0]), np.array([rng.uniform(-0.4, 0.4)]))[0]
            rot0 = rot0 @ tilt
        elif kind == "plane":
            view = cam0 - c0
            yaw = math.atan2(view[0], view[2])
            rot0 = _axis_angle(np.array([0.0, 1.0, 0.0]), np.array([yaw + rng.uniform(-0.5, 0.5)]))[0]
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        spin = np.radians(rng.uniform(1.0, 6.0)) * (ms if moving else 0.0)
        if kind == "plane":
            spin *= 0.5
        rotation = _axis_angle(axis, spin * t) @ rot0[None]
        objects.append(
            SceneObject(
                kind=kind,
                object_id=i + 1,
                center=center,
                rotation=rotation,
                size=size,
                texture=_scene_texture(rng, opts, room=False),
            )
        )

    hw = float(opts["room_half_width"])
    light = np.array([rng.uniform(-1, 1), rng.uniform(1.0, 2.0), rng.uniform(-1, 1)])
    light /= np.linalg.norm(light)
    return Scene(
        objects=objects,
        room_lo=np.array([-hw, 0.0, -hw]),
        room_hi=np.array([hw, float(opts["room_height"]), hw]),
        room_texture=_scene_texture(rng, opts, room=True),
        light=light,
        shading=bool(opts["shading"]),
        camera_motion=tuple(cm),
        intrinsics=intr,
        extrinsics=ext,
        height=height,
        width=width,
    )


# ----------------------------------------------------------------------------------------
# Ray casting
# ----------------------------------------------------------------------------------------


def _safe_inv(d: np.ndarray) -> np.ndarray:
    d = np.where(np.abs(d) < 1e-12, np.float32(1e-12), d)
    return np.float32(1.0) / d


def _local_rays(obj: SceneObject, o: np.ndarray, d: tuple):
    """Rays into the object's local frame. o (T, 3); d = (dx, dy, dz) each (T, R)."""
    rot = obj.rotation.astype(np.float32)  # (T, 3, 3)
    oc = (o - obj.center).astype(np.float32)  # (T, 3)
    ol = np.einsum("tji,tj->ti", rot, oc)  # R^T (o - c)
    dl = []
    for i in range(3):
        dl.append(
            rot[:, 0, i, None] * d[0] + rot[:, 1, i, None] * d[1] + rot[:, 2, i, None] * d[2]
        )
    return ol, dl


def _hit_object(obj: SceneObject, o: np.ndarray, d: tuple, dd: np.ndarray) -> np.ndarray:
    """Ray parameter (= camera depth when d has camera-z 1) of the first hit, inf if none."""
    inf = np.float32(np.inf)
    if obj.kind == "sphere":
        oc = (o - obj.center).astype(np.float32)
        b = d[0] * oc[:, 0, None] + d[1] * oc[:, 1, None] + d[2] * oc[:, 2, None]
        c = (np.sum(oc * oc, axis=1) - obj.size[0] ** 2).astype(np.float32)[:, None]
        disc = b * b - dd * c
        with np.errstate(invalid="ignore"):
            t = (-b - np.sqrt(disc)) / dd
        return np.where((disc >= 0) & (t > _NEAR), t, inf)
    ol, dl = _local_rays(obj, o, d)
    if obj.kind == "box":
        h = obj.size.astype(np.float32)
        tnear = None
        tfar = None
        for i in range(3):
            inv = _safe_inv(dl[i])
            t1 = (-h[i] - ol[:, i, None]) * inv
            t2 = (h[i] - ol[:, i, None]) * inv
            lo = np.minimum(t1, t2)
            hi = np.maximum(t1, t2)
            tnear = lo if tnear is None else np.maximum(tnear, lo)
            tfar = hi if tfar is None else np.minimum(tfar, hi)
        return np.where((tnear <= tfar) & (tnear > _NEAR), tnear, inf)
    # plane: rectangle |x| <= a, |y| <= b in local z = 0.
    t = -ol[:, 2, None] * _safe_inv(dl[2])
    px = ol[:, 0, None] + t * dl[0]
    py = ol[:, 1, None] + t * dl[1]
    ok = (t > _NEAR) & (np.abs(px) <= obj.size[0]) & (np.abs(py) <= obj.size[1])
    return np.where(ok, t, inf)


def _hit_room(scene: Scene, o: np.ndarray, d: tuple):
    """Exit distance from inside the room box and the face index (axis*2 + (d > 0))."""
    tbest = None
    face = None
    for i in range(3):
        inv = _safe_inv(d[i])
        t1 = (np.float32(scene.room_lo[i]) - o[:, i, None].astype(np.float32)) * inv
        t2 = (np.float32(scene.room_hi[i]) - o[:, i, None].astype(np.float32)) * inv
        ti = np.maximum(t1, t2)
        fi = np.int8(2 * i) + (d[i] > 0).astype(np.int8)
        if tbest is None:
            tbest, face = ti, fi
        else:
            closer = ti < tbest
            tbest = np.where(closer, ti, tbest)
            face = np.where(closer, fi, face)
    return tbest, face


def cast_rays(scene: Scene, origins: np.ndarray, directions: np.ndarray):
    """First hits of rays ``origins[t] + s * directions[t, r]``.

    Args:
      origins: (T, 3) world ray origins (camera centres).
      directions: (T, R, 3) world directions; with camera-space z == 1 the returned ray
        parameter is the camera depth.

    Returns:
      ``(s, ids)``: (T, R) float32 ray parameter of the first hit and (T, R) int32 id of
      the surface hit (0 = room).
    """
    d = tuple(np.ascontiguousarray(directions[..., i], dtype=np.float32) for i in range(3))
    s, ids, _ = _cast(scene, np.asarray(origins, np.float64), d)
    return s, ids


def _cast(scene: Scene, o: np.ndarray, d: tuple):
    dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    depth, face = _hit_room(scene, o, d)
    ids = np.zeros(depth.shape, np.int32)
    for obj in scene.objects:
        th = _hit_object(obj, o, d, dd)
        closer = th < depth
        depth = np.where(closer, th, depth)
        ids = np.where(closer, np.int32(obj.object_id), ids)
    return depth, ids, face


def _camera_rays(scene: Scene, x: np.ndarray, y: np.ndarray):
    """World directions (camera z = 1) through pixel positions x, y of shape (T, R)."""
    k = scene.intrinsics
    xc = ((x - k[:, 0, 2, None]) / k[:, 0, 0, None]).astype(np.float32)
    yc = ((y - k[:, 1, 2, None]) / k[:, 1, 1, None]).astype(np.float32)
    rot = scene.extrinsics[:, :3, :3].astype(np.float32)  # world-to-camera
    # d_world = R^T d_cam.
    return tuple(
        rot[:, 0, i, None] * xc + rot[:, 1, i, None] * yc + rot[:, 2, i, None]
        for i in range(3)
    )


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------


def _shade(scene: Scene, normals: np.ndarray) -> np.ndarray:
    lam = np.abs(normals @ scene.light.astype(np.float32))
    return (0.5 + 0.5 * lam)[:, None]


def _render(scene: Scene):
    t_, h, w = scene.num_frames, scene.height, scene.width
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    px = np.broadcast_to(jj.reshape(1, -1), (t_, h * w))
    py = np.broadcast_to(ii.reshape(1, -1), (t_, h * w))
    o = scene.camera_centers
    d = _camera_rays(scene, px, py)
    depth, ids, face = _cast(scene, o, d)

    flat_ids = ids.reshape(-1)
    color = np.empty((t_ * h * w, 3), np.float32)
    frame_of = np.repeat(np.arange(t_), h * w)
    of32 = o.astype(np.float32)
    # Background (room): texture in world coordinates.
    groups = [(0, None)] + [(ob.object_id, ob) for ob in scene.objects]
    for oid, ob in groups:
        idx = np.flatnonzero(flat_ids == oid)
        if idx.size == 0:
            continue
        f = frame_of[idx]
        s = depth.reshape(-1)[idx]
        p = np.stack([of32[f, i] + s * d[i].reshape(-1)[idx] for i in range(3)], axis=1)
        if ob is None:
            col = scene.room_texture(p)
            if scene.shading:
                fc = face.reshape(-1)[idx]
                n = np.zeros_like(p)
                n[np.arange(idx.size), fc // 2] = 1.0
                col *= _shade(scene, n)
        else:
            rot = ob.rotation.astype(np.float32)[f]  # (n, 3, 3)
            pl = _rot_rows(rot, p - ob.center.astype(np.float32)[f], transpose=True)
            col = ob.texture(pl)
            if scene.shading:
                if ob.kind == "sphere":
                    nl = pl / np.float32(ob.size[0])
                elif ob.kind == "box":
                    q = np.abs(pl) / ob.size.astype(np.float32)
                    ax = np.argmax(q, axis=1)
                    nl = np.zeros_like(pl)
                    nl[np.arange(idx.size), ax] = 1.0
                else:
                    nl = np.zeros_like(pl)
                    nl[:, 2] = 1.0
                n = _rot_rows(rot, nl)
                col *= _shade(scene, n)
        color[idx] = col
    video = color.reshape(t_, h, w, 3)
    return video, depth.reshape(t_, h, w), ids.reshape(t_, h, w)


def _project(scene: Scene, pw: np.ndarray):
    """World points (N, T, 3) -> pixel xy (N, T, 2) and camera z (N, T)."""
    rot = scene.extrinsics[:, :3, :3]
    tr = scene.extrinsics[:, :3, 3]
    pc = _rot_points(rot, pw) + tr[None]
    k = scene.intrinsics
    z = pc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = k[None, :, 0, 0] * pc[..., 0] / z + k[None, :, 0, 2]
        y = k[None, :, 1, 1] * pc[..., 1] / z + k[None, :, 1, 2]
    return np.stack([x, y], axis=-1), z


def _surface_normals(scene: Scene, pw: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """World unit normals (N, T, 3) of surface points pw (N, T, 3) on surfaces ids (N,)."""
    normals = np.zeros_like(pw)
    room = ids == 0
    if room.any():
        p = pw[room]
        dist = np.stack([np.abs(p - scene.room_lo), np.abs(p - scene.room_hi)], axis=-1)
        flat = dist.reshape(dist.shape[:-2] + (6,))
        face = np.argmin(flat, axis=-1)  # axis * 2 + (hi side)
        n = np.zeros_like(p)
        np.put_along_axis(n, (face // 2)[..., None], 1.0, axis=-1)
        normals[room] = n
    for ob in scene.objects:
        m = ids == ob.object_id
        if not m.any():
            continue
        pl = _rot_points(ob.rotation, pw[m] - ob.center[None], transpose=True)
        if ob.kind == "sphere":
            nl = pl / ob.size[0]
        elif ob.kind == "box":
            ax = np.argmax(np.abs(pl) / ob.size, axis=-1)
            nl = np.zeros_like(pl)
            np.put_along_axis(nl, ax[..., None], 1.0, axis=-1)
        else:
            nl = np.zeros_like(pl)
            nl[..., 2] = 1.0
        normals[m] = _rot_points(ob.rotation, nl)
    return normals


def pixel_depth_tolerance(scene: Scene, pw: np.ndarray, ids: np.ndarray, tol: float):
    """Allowed |depth[pixel] - z| (N, T) for surface points pw (N, T, 3) on surfaces ids.

    ``tol * z`` plus how much the point's own surface (its tangent plane) changes depth
    over half a pixel in x and in y: a visible point's pixel centre sees the same surface
    up to half a pixel away, which on a surface seen at a grazing angle is a large change
    of depth.
    """
    rot = scene.extrinsics[:, :3, :3]
    pc = _rot_points(rot, pw) + scene.extrinsics[None, :, :3, 3]
    nc = _rot_points(rot, _surface_normals(scene, pw, ids))
    z = pc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        ndotr = np.sum(nc * pc, axis=-1) / z  # n . (x_n, y_n, 1)
        fx = scene.intrinsics[None, :, 0, 0]
        fy = scene.intrinsics[None, :, 1, 1]
        slope = 0.5 * z * (np.abs(nc[..., 0]) / fx + np.abs(nc[..., 1]) / fy) / np.abs(ndotr)
    slope = np.where(np.isfinite(slope), slope, np.inf)
    return tol * np.abs(z) + slope


def _track_visibility(scene, pw, track_ids, depth, seg, tol):
    """Visibility (N, T) of world points pw (N, T, 3) on surfaces ``track_ids`` (N,)."""
    n, t_ = pw.shape[:2]
    h, w = scene.height, scene.width
    xy, z = _project(scene, pw)
    x, y = xy[..., 0], xy[..., 1]
    with np.errstate(invalid="ignore"):
        inside = (z > _NEAR) & (x >= 0) & (x < w) & (y >= 0) & (y < h)
    if n == 0:
        return xy, z, inside
    # Exact first-hit test along the ray through (x, y).
    xs = np.where(inside, x, w / 2.0).T  # (T, N)
    ys = np.where(inside, y, h / 2.0).T
    d = _camera_rays(scene, xs, ys)
    s, _, _ = _cast(scene, scene.camera_centers, d)
    exact = s.T >= z * (1.0 - _EXACT_EPS) - 1e-6
    # Discrete z-buffer and segmentation test at the point's pixel.
    ix = np.clip(np.floor(np.where(inside, x, 0)), 0, w - 1).astype(np.int64)
    iy = np.clip(np.floor(np.where(inside, y, 0)), 0, h - 1).astype(np.int64)
    tt = np.broadcast_to(np.arange(t_)[None], (n, t_))
    dpix = depth[tt, iy, ix]
    spix = seg[tt, iy, ix]
    allowed = pixel_depth_tolerance(scene, pw, track_ids, tol)
    with np.errstate(invalid="ignore"):
        zbuf = (spix == track_ids[:, None]) & (np.abs(dpix - z) <= allowed)
    return xy, z, inside & exact & zbuf


def _sample_tracks(rng, scene, depth, seg, num_tracks, obj_frac, tol):
    t_, h, w = seg.shape
    if num_tracks == 0:
        return (np.zeros((0, t_, 3)), np.zeros((0,), np.int32))
    ncand = 2 * num_tracks
    n_obj = int(round(ncand * obj_frac))
    obj_pix = np.flatnonzero(seg.reshape(-1) > 0)
    if obj_pix.size == 0:
        n_obj = 0
    picks = np.concatenate(
        [
            obj_pix[rng.integers(obj_pix.size, size=n_obj)] if n_obj else np.zeros(0, np.int64),
            rng.integers(t_ * h * w, size=ncand - n_obj),
        ]
    )
    picks = picks[rng.permutation(picks.size)]
    jitter = rng.uniform(-0.49, 0.49, size=(picks.size, 2))
    # Fallback candidates at exact pixel centres (always visible in their query frame).
    fallback = picks[:num_tracks]
    picks = np.concatenate([picks, fallback])
    jitter = np.concatenate([jitter, np.zeros((num_tracks, 2))])
    tq = picks // (h * w)
    row = (picks // w) % h
    col = picks % w
    qx = col + 0.5 + jitter[:, 0]
    qy = row + 0.5 + jitter[:, 1]
    # Cast each query ray in every frame's camera, keep the query frame (cheap: N*T rays).
    nq = picks.size
    xs = np.broadcast_to(qx[None], (t_, nq))
    ys = np.broadcast_to(qy[None], (t_, nq))
    d = _camera_rays(scene, xs, ys)
    s, ids, _ = _cast(scene, scene.camera_centers, d)
    ar = np.arange(nq)
    sq = s[tq, ar].astype(np.float64)
    idq = ids[tq, ar]
    o = scene.camera_centers[tq]
    p_query = o + sq[:, None] * np.stack([d[i][tq, ar] for i in range(3)], axis=1)
    pw = np.repeat(p_query[:, None, :], t_, axis=1)
    for ob in scene.objects:
        m = idq == ob.object_id
        if not m.any():
            continue
        f = tq[m]
        pl = _rot_rows(ob.rotation[f], p_query[m] - ob.center[f], transpose=True)
        pw[m] = ob.to_world(pl)
    _, _, vis = _track_visibility(scene, pw, idq, depth, seg, tol)
    good = np.flatnonzero(vis.any(axis=1))
    chosen = good[:num_tracks]
    if chosen.size < num_tracks:  # pragma: no cover - needs a degenerate scene
        raise RuntimeError("could not sample enough visible track points")
    return pw[chosen], idq[chosen].astype(np.int32)


def _boxes(seg: np.ndarray, num_objects: int):
    t_, h, w = seg.shape
    boxes = np.zeros((num_objects, t_, 4), np.float32)
    vis = np.zeros((num_objects, t_), bool)
    for k in range(1, num_objects + 1):
        m = seg == k
        rows = m.any(axis=2)  # (T, H)
        cols = m.any(axis=1)  # (T, W)
        v = rows.any(axis=1)
        ymin = np.argmax(rows, axis=1)
        ymax = h - np.argmax(rows[:, ::-1], axis=1)
        xmin = np.argmax(cols, axis=1)
        xmax = w - np.argmax(cols[:, ::-1], axis=1)
        b = np.stack([ymin / h, xmin / w, ymax / h, xmax / w], axis=1).astype(np.float32)
        boxes[k - 1] = np.where(v[:, None], b, 0.0)
        vis[k - 1] = v
    return boxes, vis


def generate_clip_with_scene(
    seed, num_frames: int = 16, height: int = 64, width: int = 64, **options
):
    """Like :func:`generate_clip`, also returning the scene and the tracks' 3D points.

    Returns:
      ``(clip, extras)``: ``clip`` is :func:`generate_clip`'s dict; ``extras`` has
      ``scene`` (:class:`Scene`), ``track_points_world`` (N, T, 3) float64 and
      ``track_object_ids`` (N,) int32 (0 = background).
    """
    opts = _parse_options(options)
    if num_frames < 1 or height < 1 or width < 1:
        raise ValueError("num_frames, height and width must be positive")
    rng = np.random.default_rng(seed)
    scene = _sample_scene(rng, int(num_frames), int(height), int(width), opts)
    video, depth, seg = _render(scene)
    tol = float(opts["depth_tolerance"])
    pw, tid = _sample_tracks(
        rng, scene, depth, seg, int(opts["num_tracks"]), float(opts["track_object_fraction"]), tol
    )
    xy, _, vis = _track_visibility(scene, pw, tid, depth, seg, tol)
    boxes, box_vis = _boxes(seg, len(scene.objects))
    clip = {
        "video": video,
        "depth": depth[..., None].astype(np.float32),
        "intrinsics": scene.intrinsics.astype(np.float32),
        "extrinsics": scene.extrinsics.astype(np.float32),
        "tracks": xy.astype(np.float32),
        "visible": vis,
        "boxes": boxes,
        "box_visible": box_vis,
        "segmentation": seg.astype(np.int32),
    }
    extras = {"scene": scene, "track_points_world": pw, "track_object_ids": tid}
    return clip, extras


def generate_clip(seed, num_frames: int = 16, height: int = 64, width: int = 64, **options):
    """Render one procedural 4D clip with exact ground truth.

    Args:
      seed: int (or sequence of ints) seeding everything; the same seed and options give
        the same clip, bit for bit.
      num_frames, height, width: clip size ``T, H, W``.
      **options: see ``DEFAULT_OPTIONS`` (objects, tracks, camera and object motion,
        texture, shading, field of view, visibility tolerance, room size).

    Returns:
      dict with exactly these keys (conventions in the module docstring):
      ``video`` (T,H,W,3) float32 in [0,1]; ``depth`` (T,H,W,1) float32, metres along
      camera z; ``intrinsics`` (T,3,3) float32; ``extrinsics`` (T,4,4) float32
      world-to-camera; ``tracks`` (N,T,2) float32 pixel (x, y); ``visible`` (N,T) bool;
      ``boxes`` (K,T,4) float32 normalised [ymin, xmin, ymax, xmax]; ``box_visible``
      (K,T) bool; ``segmentation`` (T,H,W) int32 (0 = background, k = object k).
    """
    return generate_clip_with_scene(seed, num_frames, height, width, **options)[0]


def clip_signature(num_frames: int = 16, height: int = 64, width: int = 64, **options):
    """{key: (shape, numpy dtype)} of :func:`generate_clip`'s output for these options."""
    opts = _parse_options(options)
    n, k = int(opts["num_tracks"]), int(opts["num_objects"])
    t, h, w = num_frames, height, width
    return {
        "video": ((t, h, w, 3), np.float32),
        "depth": ((t, h, w, 1), np.float32),
        "intrinsics": ((t, 3, 3), np.float32),
        "extrinsics": ((t, 4, 4), np.float32),
        "tracks": ((n, t, 2), np.float32),
        "visible": ((n, t), np.bool_),
        "boxes": ((k, t, 4), np.float32),
        "box_visible": ((k, t), np.bool_),
        "segmentation": ((t, h, w), np.int32),
    }
