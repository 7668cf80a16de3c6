"""Study budgets: how many encoders, clips and steps one study run spends.

A budget is plain data. `BUDGETS["default"]` (three sizes) is the one aimed at the
20-minute, 2-CPU-core budget (see the study's report.md for its measured time); "long"
the 2-hour one; "tiny" (two sizes, a few steps) is for notebooks and tests; "large" is a
starting point for a workstation or accelerator. Every field can be overridden from the command line.
"""
from __future__ import annotations

import dataclasses

# The 4D tasks the study's verdicts count, and the semantic reference beside them: motion
# classification (the camera-motion class of a clip), as the paper keeps SSv2 beside 4D.
FOUR_D_TASKS = ("depth", "pose", "points", "boxes")
TASKS = (*FOUR_D_TASKS, "classify")
READOUTS = ("last", "official")
MAE_TARGETS = ("normalized", "raw")
# Probe arguments that make every task's head read encoder features only (no cost volume,
# feature differences or pixel decoding: see `Probe.hand_made_paths`), with the readout's
# own position code (`readout_position`): where a token is comes from the head, so an
# encoder is not scored on how much of its input position code it kept. On the default
# study's w128 encoders (150 probe steps) it moved random init's points AJ from 0.084 to
# 0.132 and the MAE encoder's depth AbsRel from 0.395 to 0.378. The defaults of the study
# and of the probe recipes.
_POSITION = {"readout_position": True}
FEATURE_ONLY_HEADS = {
    "depth": {**_POSITION},
    "pose": {"global_motion": False, "motion_features": False, **_POSITION},
    "points": {"head": "attention", "motion_features": False, **_POSITION},
    "boxes": {"motion_features": False, **_POSITION},
    "classify": {"motion_features": False, **_POSITION},
}
# The study's heads read encoder features only: the
# official learned-query depth readout (one query per 2x16x16 block of the 64x64 clips),
# an attention readout with one query per frame for pose, Fourier-encoded query points and
# boxes cross-attending to each frame for tracking, one learned query for classes.
STUDY_HEADS = {**FEATURE_ONLY_HEADS,
               "depth": {**FEATURE_ONLY_HEADS["depth"], "decoding_patch_size": [2, 16, 16]}}


@dataclasses.dataclass(frozen=True)
class EncoderSize:
    """One encoder architecture of the study: a name and the ViT shape."""

    name: str
    width: int
    depth: int
    num_heads: int
    mlp_ratio: int = 4

    @classmethod
    def parse(cls, text: str) -> "EncoderSize":
        """'name:width:depth:heads' (e.g. 'w64:64:2:4') -> EncoderSize."""
        parts = text.split(":")
        if len(parts) != 4:
            raise ValueError(f"encoder size must be 'name:width:depth:heads', got {text!r}")
        name, *numbers = parts
        try:
            width, depth, heads = (int(n) for n in numbers)
        except ValueError:
            raise ValueError(f"width, depth and heads must be integers in {text!r}") from None
        if min(width, depth, heads) < 1 or width % heads:
            raise ValueError(f"need width, depth, heads >= 1 and width divisible by heads; "
                             f"got {text!r}")
        return cls(name, width, depth, heads)

    def encoder_kwargs(self) -> dict:
        return {"width": self.width, "depth": self.depth, "num_heads": self.num_heads,
                "mlp_dim": self.mlp_ratio * self.width}


@dataclasses.dataclass(frozen=True)
class Budget:
    """Everything that sets the cost of a study run."""

    sizes: tuple[EncoderSize, ...]
    num_frames: int = 16
    image_size: int = 64
    patch_size: tuple[int, int, int] = (2, 8, 8)
    num_tracks: int = 64
    pretrain_clips: int = 512
    pretrain_steps: int = 600
    pretrain_batch: int = 8
    pretrain_learning_rate: float = 1e-3
    # 0.75, not 4DS's 0.95: at 512 tokens per clip 0.95 leaves 25 visible, and at this
    # budget the loss falls 8.8% below the mean with 0.95 against 23% with 0.75
    # (benchmarks/mae.md, ablations).
    mask_ratio: float = 0.75
    # MAE targets: "normalized" (each tubelet's pixels minus their mean, over their std,
    # as in MAE and 4DS) or "raw" pixels, which keep the tubelet's mean colour: which
    # surface covers a hidden tubelet at that time.
    mae_targets: str = "normalized"
    # The cross-attention decoder: the same final training loss as "standard" after
    # 1000 steps on w128:128:4:4 (0.7346 against 0.7350) in 0.39 s a step against 0.64.
    decoder: str = "cross"
    decoder_width: int = 64
    decoder_depth: int = 2
    decoder_heads: int = 4
    probe_train_clips: int = 256
    # Held-out scenes: the bootstrap spread of a cell shrinks as 1/sqrt(eval_clips).
    eval_clips: int = 256
    probe_steps: int = 150
    probe_batch: int = 8
    probe_learning_rate: float = 1e-3
    probe_width: int = 64
    # Hidden state the readouts read: "last" (h_L) or "official" (the 0.95-depth state of
    # the official readouts, which is h_0 - the patch embedding - for a 2-block encoder).
    readout: str = "last"
    # Extra `generate_clip` options of every scene (pretraining, probes, evaluation alike).
    scene_options: dict = dataclasses.field(default_factory=dict)
    # Probe-class arguments per task over `STUDY_HEADS` (see `probe_kwargs`), e.g.
    # {"depth": {"decoding_patch_size": [2, 8, 8]}}.
    task_probe_kwargs: dict = dataclasses.field(default_factory=lambda: dict(STUDY_HEADS))
    # Per-task changes of the probes' steps, batch_size and learning_rate.
    task_training: dict = dataclasses.field(default_factory=dict)
    # The 4D tasks; add "classify" (the "long" budget does) for the semantic reference.
    tasks: tuple[str, ...] = FOUR_D_TASKS
    seed: int = 0
    # Train encoder + head (the paper's fine-tuned readouts) instead of a frozen encoder;
    # the encoder learns at `encoder_learning_rate`.
    fine_tune: bool = False
    encoder_learning_rate: float = 1e-4
    # Bootstrap resamples of the eval clips behind every cell's spread (see report.py).
    bootstrap: int = 200

    def __post_init__(self):
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        unknown = sorted(set(self.tasks) - set(TASKS))
        if unknown:
            raise ValueError(f"tasks must be among {TASKS}; got {unknown}")
        if self.mae_targets not in MAE_TARGETS:
            raise ValueError(f"mae_targets must be one of {MAE_TARGETS}, got {self.mae_targets!r}")
        decoders = ("standard", "masked", "cross")
        if self.decoder not in decoders:
            raise ValueError(f"decoder must be one of {decoders}, got {self.decoder!r}")
        if self.eval_clips < 2:
            raise ValueError(f"eval_clips must be at least 2 (the bootstrap spread resamples "
                             f"them), got {self.eval_clips}")
        if self.bootstrap < 2:
            raise ValueError(f"bootstrap must be at least 2 resamples, got {self.bootstrap}")

    def readout_index(self, encoder_depth: int):
        """`train_probe`'s readout_index for an encoder of `encoder_depth` blocks."""
        return encoder_depth if self.readout == "last" else None

    def probe_kwargs(self, task: str) -> dict:
        """The probe arguments of `task`: its `STUDY_HEADS` entry updated with
        `task_probe_kwargs[task]` (a partial dict changes only the keys it names)."""
        return {**STUDY_HEADS.get(task, {}), **self.task_probe_kwargs.get(task, {})}

    def probe_training(self, task: str) -> dict:
        """`train_probe`'s steps, batch_size and learning_rate for `task`."""
        settings = {"steps": self.probe_steps, "batch_size": self.probe_batch,
                    "learning_rate": self.probe_learning_rate}
        unknown = set(self.task_training.get(task, {})) - set(settings)
        if unknown:
            raise ValueError(f"task_training[{task!r}] may set {sorted(settings)}; got {sorted(unknown)}")
        return {**settings, **self.task_training.get(task, {})}

    def replace(self, **changes) -> "Budget":
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Budget":
        data = dict(data)
        data["sizes"] = tuple(EncoderSize(**s) for s in data["sizes"])
        data["patch_size"] = tuple(data["patch_size"])
        data["tasks"] = tuple(data["tasks"])
        return cls(**data)


# Depth grows with width, as in the paper's ladder (ViT-S/B/L... deepen as they widen).
_THREE = tuple(EncoderSize.parse(s) for s in ("w32:32:2:2", "w64:64:3:4", "w128:128:4:4"))

BUDGETS = {
    "tiny": Budget(
        sizes=tuple(EncoderSize.parse(s) for s in ("w16:16:1:2", "w32:32:1:2")),
        num_frames=4, image_size=32, patch_size=(2, 8, 8), num_tracks=16,
        pretrain_clips=8, pretrain_steps=4, pretrain_batch=4,
        probe_train_clips=8, eval_clips=4, probe_steps=4, probe_batch=4, bootstrap=20),
    "default": Budget(sizes=_THREE),
    # Under 2 hours on 2 CPU cores: over three times the pretraining of "default", a deeper
    # largest encoder, motion classification, and tracking heads trained on 2048 scenes for
    # 800-1000 steps. On 256 scenes they memorise: on the default study's w128 MAE encoder,
    # 1000 box steps took the training loss from 0.95 to 0.63 at held-out IoU 0.385 (first
    # box: 0.388); on 2048 scenes the same steps reached IoU 0.449 +- 0.011 (random init
    # 0.441 +- 0.012) and points AJ 0.145 (static: 0.147).
    "long": Budget(
        sizes=tuple(EncoderSize.parse(s) for s in ("w32:32:2:2", "w64:64:4:4", "w128:128:6:4")),
        pretrain_clips=1024, pretrain_steps=2000, probe_train_clips=2048, eval_clips=256,
        probe_steps=300, probe_batch=8, tasks=TASKS,
        task_training={"points": {"steps": 1000}, "boxes": {"steps": 800}}),
    "large": Budget(
        sizes=tuple(EncoderSize.parse(s) for s in
                    ("w64:64:4:4", "w128:128:4:4", "w192:192:6:6", "w256:256:8:8")),
        pretrain_clips=2048, pretrain_steps=5000, pretrain_batch=16,
        probe_train_clips=512, eval_clips=128, probe_steps=1500, probe_batch=16,
    ),
}
