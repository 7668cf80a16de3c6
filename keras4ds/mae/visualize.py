"""Drawings of MAE reconstructions (un-normalised) as PNG and MP4."""
import os

import numpy as np
from keras import ops

from keras4ds.data.video_io import write_video
from keras4ds.data.visualize import contact_sheet
from keras4ds.models.patches import unpatchify
from keras4ds.utils import write_staged


def draw_reconstruction(mae, video, out_dir):
    """Write `out_dir`/reconstruction.png (rows: input, masked input in grey, reconstruction;
    one column per frame) and reconstruction.mp4 (the three side by side) for the first
    clip of `video` `(B, T, H, W, 3)` in [0, 1]."""
    video = np.asarray(video[:1], "float32")
    mask = mae.sample_mask(1, seed=12345)
    recon = ops.convert_to_numpy(mae.reconstruct(video, mask))[0]
    keep = unpatchify(np.repeat((~mask)[..., None], mae.patch_dim, -1).astype("float32"),
                      mae.grid, mae.patch_size, 3)
    masked = video[0] * ops.convert_to_numpy(keep)[0] + 0.5 * (1 - ops.convert_to_numpy(keep)[0])
    rows = [contact_sheet((np.clip(x, 0, 1) * 255).astype(np.uint8), cols=len(x))
            for x in (video[0], masked, recon)]
    sheet = np.concatenate(rows, axis=0)
    import matplotlib.pyplot as plt

    for name, write in (("reconstruction.png", lambda p: plt.imsave(p, sheet, format="png")),
                        ("reconstruction.mp4", lambda p: write_video(
                            p, np.concatenate([video[0], masked, recon], axis=2), fps=4))):
        write_staged(os.path.join(out_dir, name), write)
