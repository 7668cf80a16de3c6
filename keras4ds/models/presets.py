"""The 4DS size family and parameter counts computed from shapes alone."""
import math

# name: (width D, depth L, MLP M, heads). Ti..e from the 4DS release and paper; the
# paper's 22B shape is not public, so "22b" uses ViT-22B's published shape.
SIZES = {
    "ti": (192, 12, 768, 3),
    "s": (384, 12, 1536, 6),
    "m": (512, 12, 2048, 8),
    "b": (768, 12, 3072, 12),
    "l": (1024, 24, 4096, 16),
    "h": (1280, 32, 5120, 16),
    "g": (1408, 40, 6144, 16),
    "G": (1664, 48, 8192, 16),
    "e": (1792, 56, 15360, 16),
    "22b": (6144, 48, 24576, 48),
}
ALIASES = {"giant": "g", "gigantic": "G", "enormous": "e", "tiny": "ti", "small": "s",
           "base": "b", "large": "l", "huge": "h"}


def size_config(name):
    """Encoder keyword arguments for a size name: 'b', '4ds_b', '4DS-B', 'G', '22b', ...

    `g` (giant) and `G` (gigantic) differ only by case; other names are case-insensitive.
    """
    key = str(name)
    for prefix in ("4ds_", "4DS_", "4ds-", "4DS-"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    if key not in SIZES:
        key = ALIASES.get(key.lower(), key.lower())
    if key not in SIZES:
        raise ValueError(f"unknown 4DS size {name!r}; expected one of {sorted(SIZES)} "
                         f"or {sorted(ALIASES)}")
    width, depth, mlp_dim, num_heads = SIZES[key]
    return {"width": width, "depth": depth, "mlp_dim": mlp_dim, "num_heads": num_heads}


def count_parameters(width, depth, mlp_dim, num_heads=None, num_frames=16,
                     image_size=(224, 224), patch_size=(2, 16, 16), channels=3):
    """Encoder parameter count from shapes alone (nothing is allocated)."""
    del num_heads  # q/k/v/out sizes depend on the width only
    grid = (num_frames // patch_size[0], image_size[0] // patch_size[1],
            image_size[1] // patch_size[2])
    embedding = math.prod(patch_size) * channels * width + width
    position = math.prod(grid) * width
    norms = 2 * 2 * width
    attention = 4 * (width * width + width)
    mlp = width * mlp_dim + mlp_dim + mlp_dim * width + width
    return embedding + position + depth * (norms + attention + mlp)
