"""PNG figures of a study: metric against parameters per task, MAE loss curves, examples."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras4ds.utils import write_staged  # noqa: E402
from keras4ds_apps.study import examples  # noqa: E402


def _save(fig, path: str) -> str:
    try:
        return write_staged(path, lambda staged: fig.savefig(staged, dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)


def _scaling_axes(ax, task: str, summary: dict) -> None:
    rows = summary["rows"]
    params = [r["parameters"] for r in rows]
    for key, style, label in (("mae", "o-", "MAE-pretrained"), ("random", "s--", "random init")):
        values = [np.nan if r[key] is None else r[key] for r in rows]
        spreads = [np.nan if r.get(f"{key}_spread") is None else r[f"{key}_spread"] for r in rows]
        ax.errorbar(params, values, yerr=spreads, fmt=style, capsize=3, label=label)
    trivial = [r["trivial"] for r in rows if r["trivial"] is not None]
    if trivial:
        ax.axhline(float(np.mean(trivial)), color="grey", linestyle=":", label="trivial baseline")
    for r in rows:
        ax.annotate(r["size"], (r["parameters"], r["mae"] if r["mae"] is not None else np.nan),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("encoder parameters")
    ax.set_ylabel(summary["metric"])
    source = f"\neval: {summary['eval_data']}" if "eval_data" in summary else ""
    ax.set_title(f"{task}: {summary['label']}{source}", fontsize=9)
    ax.grid(alpha=0.3)


def scaling_figures(folder, results: dict) -> list[str]:
    """`<task>_scaling.png` per task and `scaling.png` with all tasks side by side."""
    summary = results["summary"]
    paths = []
    for task, s in summary.items():
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        _scaling_axes(ax, task, s)
        ax.legend(fontsize=8)
        paths.append(_save(fig, folder.path(f"{task}_scaling.png")))
    if summary:
        fig, axes = plt.subplots(1, len(summary), figsize=(4.6 * len(summary), 3.8),
                                 squeeze=False, layout="constrained")
        for ax, (task, s) in zip(axes[0], summary.items()):
            _scaling_axes(ax, task, s)
        axes[0][0].legend(fontsize=8)
        mode = "fine-tuned" if results["budget"].get("fine_tune") else "frozen"
        fig.suptitle(f"Miniature 4DS study: {mode} feature readouts on held-out procedural "
                     f"scenes (bars: bootstrap spread)"
                     + (" (or the real data a panel names)" if results.get("data") else ""))
        paths.append(_save(fig, folder.path("scaling.png")))
    return paths


def loss_figure(folder, results: dict) -> str:
    """`mae_loss.png`: the MAE reconstruction loss of every size against the step."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for size in results["sizes"]:
        loss = results["pretrain"].get(size["name"], {}).get("loss")
        if loss:
            ax.plot(np.arange(1, len(loss) + 1), loss,
                    label=f"{size['name']} ({size['parameters']:,} params)")
    ax.set_xlabel("step")
    ax.set_ylabel("masked-patch MSE (normalised pixels)")
    real = (results.get("data") or {}).get("pretrain")
    ax.set_title("MAE pretraining loss" + (f"\non videos of {real['source']}" if real else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, folder.path("mae_loss.png"))


def write_all(folder, results: dict) -> list[str]:
    """Every figure of the study; returns the paths written."""
    paths = scaling_figures(folder, results)
    paths.append(loss_figure(folder, results))
    paths += examples.example_figures(folder, results, _save)
    return paths
