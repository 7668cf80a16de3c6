"""Turn finished stages into `results.json` and an honest `report.md`.

Each task is scored by one primary metric (`PRIMARY`); the report compares, per task,
MAE-pretrained against random-init encoders of the same size, the largest size against
the smallest, and both against the trivial baseline, and says in words why a hoped-for
ordering did not appear where it did not.
"""
from __future__ import annotations

import math

# task: (metric key, higher is better, label)
PRIMARY = {
    "depth": ("abs_rel", False, "AbsRel (lower is better)"),
    "pose": ("end_point_error", False, "mean end-point error (lower is better)"),
    "points": ("average_jaccard", True, "TAP-Vid average Jaccard (higher is better)"),
    "boxes": ("box_iou", True, "box-tracking mean IoU (higher is better)"),
}
# Relative differences below this are reported as ties (too small to separate).
TIE_FRACTION = 0.01
# MAE losses of the largest and smallest encoder closer than this count as "the same".
SAME_LOSS_FRACTION = 0.03


def better(task: str, a, b) -> bool:
    """True if primary metric value `a` is clearly better than `b` for `task`."""
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return False
    higher = PRIMARY[task][1]
    margin = TIE_FRACTION * max(abs(a), abs(b), 1e-12)
    return a - b > margin if higher else b - a > margin


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.4g}"


def task_conclusion(task: str, rows: list[dict], pretrain: dict) -> dict:
    """Answers for one task from its rows (one per size, smallest first, each with
    'mae', 'random', 'trivial' primary values): the two questions and, where the
    answer is no, the reasons read off the measurements."""
    mae_wins = [better(task, r["mae"], r["random"]) for r in rows]
    scaling = better(task, rows[-1]["mae"], rows[0]["mae"])
    reasons = []
    learned = [better(task, r["mae"], r["trivial"]) or better(task, r["random"], r["trivial"])
               for r in rows]
    if not any(learned):
        reasons.append("no readout beat the trivial baseline, so at this probe budget the "
                       "head has not learned the task and encoder differences are noise")
    elif not all(learned):
        names = [r["size"] for r, ok in zip(rows, learned) if not ok]
        reasons.append(f"the readouts on {', '.join(names)} did not beat the trivial baseline")
    if task == "points" and all(r["mae"] == 0 and r["random"] == 0 for r in rows):
        delta = ", ".join(f"{r['size']} {_fmt(r['mae_delta'])} / {_fmt(r['random_delta'])}"
                          for r in rows)
        reasons.append(f"every points readout scored AJ 0 because it marked the query points "
                       f"occluded (AJ needs predicted-visible points); position accuracy "
                       f"<δ_avg, which ignores predicted visibility, was (pretrained / random) "
                       f"{delta} against {_fmt(rows[0]['trivial_delta'])} for static points")
    last = [p["last_loss"] for p in pretrain.values() if p.get("last_loss") is not None]
    if last and min(last) > 0.9:
        reasons.append(f"MAE pretraining ended at a loss of {min(last):.3f} at best, next to "
                       f"1.0, the loss of predicting every hidden patch as its mean (targets "
                       f"are per-patch normalised to unit variance): the encoders had not "
                       f"yet learned to reconstruct")
    drops = [p["loss_drop"] for p in pretrain.values() if p.get("loss_drop") is not None]
    if drops and max(drops) < 0.25 and not (last and min(last) > 0.9):
        reasons.append(f"MAE pretraining lowered the reconstruction loss by at most "
                       f"{100 * max(drops):.0f}%: pretraining at this budget is short")
    smallest, largest = (pretrain.get(rows[i]["size"], {}).get("last_loss") for i in (0, -1))
    if not scaling and smallest and largest and largest > (1 - SAME_LOSS_FRACTION) * smallest:
        reasons.append(f"the largest encoder's MAE loss ({largest:.3f}) is within "
                       f"{100 * SAME_LOSS_FRACTION:.0f}% of the smallest's ({smallest:.3f}): "
                       f"at this budget the larger encoders did not learn more from "
                       f"pretraining, so their features have no head start")
    ties = [r["size"] for r in rows if not better(task, r["mae"], r["random"])
            and not better(task, r["random"], r["mae"])]
    if ties:
        reasons.append(f"pretrained and random-init differ by less than "
                       f"{100 * TIE_FRACTION:.0f}% on {', '.join(ties)} (a tie)")
    random_wins = [r["size"] for r in rows if better(task, r["random"], r["mae"])]
    if random_wins:
        reasons.append(f"the random-init encoder read out better on {', '.join(random_wins)}")
    fitted = all(r.get("mae_r2") is not None and r.get("random_r2") is not None for r in rows)
    if (task == "points" and random_wins and fitted
            and all(r["random_r2"] > r["mae_r2"] for r in rows if r["size"] in random_wins)):
        r2 = ", ".join(f"{r['size']} {r['mae_r2']:.3f} / {r['random_r2']:.3f}" for r in rows)
        reasons.append(f"the point head tracks pixels that a linear decoder reads back from the "
                       f"features, and that decoder's R^2 on the training tokens was "
                       f"(pretrained / random) {r2}: the random-init features keep more of the "
                       f"pixels than the pretrained ones")
    return {
        "pretrained_beats_random": all(mae_wins),
        "pretrained_beats_random_per_size": {r["size"]: w for r, w in zip(rows, mae_wins)},
        "largest_beats_smallest": scaling,
        "reasons": reasons if not (all(mae_wins) and scaling) else [],
    }


def summarise(results: dict) -> dict:
    """Add per-task rows and conclusions to `results` (in place) and return it."""
    sizes = results["sizes"]
    summary = {}
    for task, probes in results["probes"].items():
        key, higher, label = PRIMARY[task]
        rows = []
        for size in sizes:
            entry = probes.get(size["name"])
            if entry is None:
                continue
            rows.append({"size": size["name"], "parameters": size["parameters"],
                         "mae": entry["mae"]["metrics"].get(key),
                         "random": entry["random"]["metrics"].get(key),
                         "trivial": entry["mae"]["trivial"].get(key)})
            if task == "points":
                rows[-1].update({f"{name}_r2": entry[name].get("pixel_decoder_r2")
                                 for name in ("mae", "random")})
                rows[-1].update({f"{name}_delta": source.get("average_pts_within_thresh")
                                 for name, source in (("mae", entry["mae"]["metrics"]),
                                                      ("random", entry["random"]["metrics"]),
                                                      ("trivial", entry["mae"]["trivial"]))})
        if len(rows) < 2:
            continue
        summary[task] = {"metric": key, "higher_is_better": higher, "label": label,
                         "rows": rows, **task_conclusion(task, rows, results["pretrain"])}
        real = results.get("data", {}).get("probes", {}).get(task)
        if real:
            summary[task]["eval_data"] = real["eval"]
    results["summary"] = summary
    return results


def _yes_no(flag: bool) -> str:
    return "**yes**" if flag else "**no**"


def _data_lines(data) -> list[str]:
    """The report's paragraph on the real data that replaced procedural scenes (none
    without real data)."""
    if not data:
        return []
    parts = []
    if data["pretrain"]:
        parts.append(f"MAE pretraining read {data['pretrain']['clips']} clips from the videos "
                     f"in `{data['pretrain']['source']}`")
    parts += [f"{task} readouts trained on {d['train_clips']} clips of `{d['train']}` and "
              f"evaluated on {d['eval_clips']} held-out clips of `{d['eval']}`"
              for task, d in data["probes"].items()]
    return [f"**Real data** (these replace the procedural scenes counted above): "
            f"{'; '.join(parts)}. Everything else used procedural scenes.", ""]


def render_markdown(results: dict) -> str:
    """`report.md` text from summarised results."""
    budget, timing = results["budget"], results["timing"]
    lines = [
        "# keras4ds miniature 4DS study",
        "",
        f"Backend `{results['backend']}`, budget `{results['budget_name']}`: "
        f"{len(results['sizes'])} encoder sizes on {budget['num_frames']}x"
        f"{budget['image_size']}x{budget['image_size']} procedural clips "
        f"(patch {tuple(budget['patch_size'])}), MAE pretraining for "
        f"{budget['pretrain_steps']} steps of batch {budget['pretrain_batch']} "
        f"(mask ratio {budget['mask_ratio']}) on {budget['pretrain_clips']} scenes, "
        f"frozen readouts trained for {budget['probe_steps']} steps of batch "
        f"{budget['probe_batch']} on {budget['probe_train_clips']} scenes and evaluated on "
        f"{budget['eval_clips']} held-out scenes. Readouts read "
        + ("the last hidden state h_L" if budget.get("readout", "last") == "last"
           else "the official 0.95-depth hidden state")
        + (f"; scene options {budget['scene_options']}" if budget.get("scene_options") else "")
        + (f"; per-task probe arguments {budget['task_probe_kwargs']}"
           if budget.get("task_probe_kwargs") else "")
        + (f"; per-task training {budget['task_training']}"
           if budget.get("task_training") else "") + ".",
        "",
        *_data_lines(results.get("data")),
        "Runs in this folder (wall time, stages run, 1-minute load average at the end): "
        + "; ".join(f"{r['seconds'] / 60:.1f} min, {r['stages_run']} stages, load "
                    f"{r['load_average']:.1f}" for r in results.get("runs", [])) + ".",
        "",
        f"Wall time of this run: {timing['total_seconds'] / 60:.1f} min "
        f"({timing['stages_run']} stages run, {timing['stages_skipped']} reused from an "
        f"earlier run) on {results['machine']}, 1-minute load average "
        f"{timing['load_average']:.1f} at the end. The stages (pretraining and probes, "
        f"without data generation) took {timing['stage_seconds'] / 60:.1f} min in all, "
        f"summed over every run that made them.",
        "",
        "Random init = the very weights MAE pretraining of that size started from. "
        "Trivial baseline = the task's no-learning answer (constant depth, identity pose, "
        "static points, first-frame box).",
        "",
        "## MAE pretraining",
        "",
        "| size | parameters | first loss | last loss | drop | minutes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        p = results["pretrain"].get(size["name"])
        if p is None:
            continue
        lines.append(f"| {size['name']} | {size['parameters']:,} | {_fmt(p['first_loss'])} | "
                     f"{_fmt(p['last_loss'])} | {100 * p['loss_drop']:.0f}% | "
                     f"{p['seconds'] / 60:.1f} |")
    lines += ["", "![MAE loss](mae_loss.png)", ""]
    for task, s in results["summary"].items():
        lines += [f"## {task}: {s['label']}", "",
                  "| size | parameters | MAE-pretrained | random init | trivial baseline |",
                  "|---|---:|---:|---:|---:|"]
        for r in s["rows"]:
            lines.append(f"| {r['size']} | {r['parameters']:,} | {_fmt(r['mae'])} | "
                         f"{_fmt(r['random'])} | {_fmt(r['trivial'])} |")
        per_size = ", ".join(f"{k}: {'yes' if v else 'no'}"
                             for k, v in s["pretrained_beats_random_per_size"].items())
        lines += ["",
                  f"- Pretrained beats random init at every size: "
                  f"{_yes_no(s['pretrained_beats_random'])} ({per_size}).",
                  f"- Largest pretrained beats smallest pretrained: "
                  f"{_yes_no(s['largest_beats_smallest'])}."]
        for reason in s["reasons"]:
            lines.append(f"- Why not: {reason}.")
        lines += ["", f"![{task}]({task}_scaling.png)", ""]
    wins = sum(s["pretrained_beats_random"] for s in results["summary"].values())
    scale = sum(s["largest_beats_smallest"] for s in results["summary"].values())
    n = len(results["summary"])
    lines += ["## Verdict", "",
              f"Pretrained beats random init on {wins} of {n} tasks; the largest encoder "
              f"beats the smallest on {scale} of {n} tasks (the paper's hope: {n} of {n} and "
              f"at least 3 of 4). A difference under {100 * TIE_FRACTION:.0f}% counts as a tie.",
              "", "Example predictions of the largest pretrained encoder's readouts on "
              "held-out scenes: `examples_depth.png`, `examples_points.png`, "
              "`examples_boxes.png`.", ""]
    return "\n".join(lines)
