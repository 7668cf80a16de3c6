"""Pictures of probe results: loss curves, predicted vs true depth, tracks, boxes, poses."""
import os

import numpy as np

from keras4ds.utils import write_staged


def _save_png(path, image):
    from PIL import Image

    write_staged(path, Image.fromarray(image).save)


def _save_figure(path, figure):
    write_staged(path, lambda staged: figure.savefig(staged, dpi=100))


def loss_curve(path, steps, losses, title):
    """PNG of the training loss over steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(5, 3.2), tight_layout=True)
    axis.plot(steps, losses, marker=".")
    axis.set(xlabel="step", ylabel="training loss", title=title)
    _save_figure(path, figure)
    plt.close(figure)


def pose_trajectories(path, pred_pose, gt_pose, fps=4):
    """PNG at `path`: camera centres (x, z) in the first camera's frame, true vs predicted,
    per video (up to 4); and an MP4 next to it (`.png` -> `.mp4`) whose frame t draws
    the trajectories up to frame t. Returns the two paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras4ds.data.video_io import write_video
    count = min(4, len(gt_pose))
    figure, axes = plt.subplots(1, count, figsize=(3.2 * count, 3.2), tight_layout=True, squeeze=False)
    lines = []
    for axis, pred, gt in zip(axes[0], pred_pose, gt_pose):
        for pose, style, label in ((gt, "o-", "true"), (pred, "x-", "predicted")):
            xz = np.asarray(pose)[:, [0, 2], 3]
            lines.append((axis.plot(xz[:, 0], xz[:, 1], style, label=label, ms=3)[0], xz))
        axis.set(xlabel="x (m)", ylabel="z (m)", aspect="equal")
        axis.set(xlim=axis.get_xlim(), ylim=axis.get_ylim())  # fixed over the video's frames
    axes[0][0].legend()
    canvas = figure.canvas
    canvas.draw()
    figure.set_layout_engine("none")  # keep the layout fitted to the whole trajectories
    for line, _ in lines:
        line.set_visible(False)
    canvas.draw()
    background = canvas.copy_from_bbox(figure.bbox)  # axes, ticks, legend: drawn once
    frames = []
    for t in range(len(gt_pose[0])):
        canvas.restore_region(background)
        for line, xz in lines:
            line.set_data(xz[:t + 1, 0], xz[:t + 1, 1])
            line.set_visible(True)
            line.axes.draw_artist(line)
        frames.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    video = os.path.splitext(path)[0] + ".mp4"
    write_video(video, np.stack(frames), fps=fps)
    _save_figure(path, figure)  # the last frame: whole trajectories
    plt.close(figure)
    return [path, video]


def _pick(tree, index):
    return {k: np.asarray(v)[index] for k, v in tree.items()} if isinstance(tree, dict) \
        else np.asarray(tree)[index]


def comparison_frames(task, video, target, prediction):
    """Frames `(T, h, w, 3)` uint8 of one example: the truth left, the prediction right.

    `target`/`prediction` are one example's entries of `probe_batch` targets and probe
    outputs (positions in [0, 1] units). depth: video | true depth | predicted depth.
    """
    from keras4ds.data.visualize import colorize_depth, draw_clip
    if task == "depth":
        true = draw_clip({"video": video, "depth": target["depth"]}, scale=2)
        pred = colorize_depth(np.maximum(prediction, 1e-3)).repeat(2, 1).repeat(2, 2)
        return np.concatenate([true, pred], axis=2)
    h, w = video.shape[1:3]
    if task == "points":
        true = {"tracks": target["tracks"] * [w, h], "visible": target["visible"] > 0.5}
        pred = {"tracks": prediction["tracks"] * [w, h],
                "visible": np.asarray(prediction["visible"], bool)}
    else:
        shown = target["box_visible"][:, :1] > 0.5
        true = {"boxes": target["boxes"], "box_visible": target["box_visible"] > 0.5}
        pred = {"boxes": prediction, "box_visible": np.broadcast_to(shown, shown.shape[:1] + (len(video),))}
    return np.concatenate([draw_clip(dict(true, video=video), scale=4, show_depth=False),
                           draw_clip(dict(pred, video=video), scale=4, show_depth=False)], axis=2)


def save_comparison(out_dir, task, inputs, targets, predictions, count=2):
    """Write `<task>_example<i>.png` (contact sheet) and `.mp4` for the first examples."""
    from keras4ds.data.video_io import write_video
    from keras4ds.data.visualize import contact_sheet
    written = []
    for i in range(min(count, len(inputs["video"]))):
        frames = comparison_frames(task, inputs["video"][i], _pick(targets, i), _pick(predictions, i))
        base = os.path.join(out_dir, f"{task}_example{i}")
        _save_png(base + ".png", contact_sheet(frames, cols=4))
        write_video(base + ".mp4", frames, fps=4)
        written += [base + ".png", base + ".mp4"]
    return written
