"""Turn finished stages into `results.json` and an honest `report.md`.

Each task is scored by one primary metric (`PRIMARY`); the report compares, per task,
MAE-pretrained against random-init encoders of the same size, the largest size against
the smallest, and both against the trivial baseline, and says in words why a hoped-for
ordering did not appear where it did not.
"""
from __future__ import annotations

import math

from keras4ds.readouts.evaluate import NON_OVERLAP_LEVEL
from keras4ds_apps.study.budgets import FOUR_D_TASKS

# task: (metric key, higher is better, label)
PRIMARY = {
    "depth": ("abs_rel", False, "AbsRel (lower is better)"),
    "pose": ("ate", False, "absolute trajectory error after Sim(3) alignment, m (lower is better)"),
    "points": ("average_jaccard", True, "TAP-Vid average Jaccard (higher is better)"),
    "boxes": ("box_iou", True, "box-tracking mean IoU (higher is better)"),
    "classify": ("top1", True, "motion-class top-1 accuracy (higher is better)"),
}
# Metrics shown beside a task's primary one, not counted in the verdicts.
SECONDARY = {
    "pose": (("end_point_error", False, "end-point error without scale alignment, m"),
             ("auc_30", True, "relative-pose AUC@30 (scale-free)"),
             ("rpe_trans", False, "relative pose error between frames, translation")),
}
# Why a task is scored as it is, where the choice needs a reason.
METRIC_NOTES = {
    "pose": "A monocular video fixes a camera path only up to scale (these scenes draw the "
            "field of view from 40-60 degrees; RealEstate10K's SLAM poses have an arbitrary "
            "scale per video), so pose is scored after the Sim(3) alignment that trajectory "
            "evaluation uses (evo `ape --align --correct_scale`). Without that alignment the "
            "end-point error mostly measures the length of the predicted path, which a "
            "readout unsure of the scale shrinks towards the identity pose.",
}
# MAE losses of the largest and smallest encoder closer than this count as "the same".
SAME_LOSS_FRACTION = 0.03


def beyond(task: str, a, a_spread, b, b_spread) -> bool:
    """True if primary value `a` is better than `b` for `task` beyond the measured spread:
    their intervals (value +- spread, see `bootstrap_spread`) do not overlap."""
    return _apart(a, a_spread, b, b_spread, PRIMARY[task][1])


def _apart(a, a_spread, b, b_spread, higher_is_better) -> bool:
    """True if `a` is better than `b` by more than the two spreads together."""
    values = (a, a_spread, b, b_spread)
    if any(v is None or not math.isfinite(v) for v in values):
        return False
    gap = a - b if higher_is_better else b - a
    return gap > a_spread + b_spread


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.4g}"


def _cell(value, spread) -> str:
    return _fmt(value) if spread is None else f"{_fmt(value)} ± {_fmt(spread)}"


def _wins(task, rows, a, b):
    """Per row: does column `a` beat column `b` beyond both spreads?"""
    return [beyond(task, r[a], r.get(f"{a}_spread"), r[b], r.get(f"{b}_spread")) for r in rows]


def task_conclusion(task: str, rows: list[dict], pretrain: dict) -> dict:
    """Answers for one task from its rows (one per size, smallest first, each with
    'mae', 'random', 'trivial' primary values and their '*_spread'): the questions, every
    one decided beyond the measured spread, and, where an answer is no, the reasons read
    off the measurements."""
    mae_wins = _wins(task, rows, "mae", "random")
    random_wins = _wins(task, rows, "random", "mae")
    largest, smallest = rows[-1], rows[0]
    scaling = beyond(task, largest["mae"], largest.get("mae_spread"), smallest["mae"],
                     smallest.get("mae_spread"))
    mae_learned = _wins(task, rows, "mae", "trivial")
    random_learned = _wins(task, rows, "random", "trivial")
    reasons = []
    if not any(mae_learned) and not any(random_learned):
        reasons.append("no readout beat the trivial baseline beyond the spread, so at this "
                       "probe budget the head has not learned the task and encoder "
                       "differences are noise")
    elif not all(mae_learned):
        names = [r["size"] for r, ok in zip(rows, mae_learned) if not ok]
        reasons.append(f"the readouts on the pretrained {', '.join(names)} did not beat the "
                       f"trivial baseline beyond the spread")
    if task == "points" and all(r["mae"] == 0 and r["random"] == 0 for r in rows):
        delta = ", ".join(f"{r['size']} {_fmt(r.get('mae_delta'))} / {_fmt(r.get('random_delta'))}"
                          for r in rows)
        reasons.append(f"every points readout scored AJ 0 because it marked the query points "
                       f"occluded (AJ needs predicted-visible points); position accuracy "
                       f"<δ_avg, which ignores predicted visibility, was (pretrained / random) "
                       f"{delta} against {_fmt(rows[0].get('trivial_delta'))} for static points")
    held = {name: p.get("heldout_loss") for name, p in pretrain.items()}
    known = [v for v in held.values() if v is not None]
    if known and min(known) > 0.9:
        reasons.append(f"MAE pretraining ended at a held-out loss of {min(known):.3f} at best, "
                       f"next to 1.0, the loss of predicting every hidden patch as its mean "
                       f"(targets are per-patch normalised): the encoders had not yet learned "
                       f"to reconstruct")
    small_loss, large_loss = held.get(smallest["size"]), held.get(largest["size"])
    if not scaling and small_loss and large_loss and large_loss > (1 - SAME_LOSS_FRACTION) * small_loss:
        reasons.append(f"the largest encoder's held-out MAE loss ({large_loss:.3f}) is within "
                       f"{100 * SAME_LOSS_FRACTION:.0f}% of the smallest's ({small_loss:.3f}): "
                       f"at this budget the larger encoders did not learn more from "
                       f"pretraining, so their features have no head start")
    ties = [r["size"] for r, m, w in zip(rows, mae_wins, random_wins) if not m and not w]
    if ties:
        reasons.append(f"pretrained and random init are within the spread of each other on "
                       f"{', '.join(ties)} (a tie)")
    if any(random_wins):
        names = [r["size"] for r, w in zip(rows, random_wins) if w]
        reasons.append(f"the random-init encoder read out better beyond the spread on "
                       f"{', '.join(names)}")
    if not scaling:
        reasons.append(f"the largest pretrained encoder ({_cell(largest['mae'], largest.get('mae_spread'))}) "
                       f"is within the spread of, or behind, the smallest "
                       f"({_cell(smallest['mae'], smallest.get('mae_spread'))})")
    done = mae_wins[-1] and scaling and mae_learned[-1]
    return {
        "pretrained_beats_random": all(mae_wins),
        "pretrained_beats_random_at_largest": mae_wins[-1],
        "pretrained_beats_random_per_size": {r["size"]: w for r, w in zip(rows, mae_wins)},
        "largest_beats_smallest": scaling,
        "largest_beats_trivial": mae_learned[-1],
        "reasons": [] if done else reasons,
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
            mae, random = entry["mae"], entry["random"]
            rows.append({"size": size["name"], "parameters": size["parameters"],
                         "mae": mae["metrics"].get(key), "random": random["metrics"].get(key),
                         "trivial": mae["trivial"].get(key),
                         "mae_spread": mae.get("spread", {}).get(key),
                         "random_spread": random.get("spread", {}).get(key),
                         "trivial_spread": mae.get("trivial_spread", {}).get(key)})
            rows[-1]["secondary"] = {
                other: {"mae": mae["metrics"].get(other), "random": random["metrics"].get(other),
                        "trivial": mae["trivial"].get(other),
                        "mae_spread": mae.get("spread", {}).get(other),
                        "random_spread": random.get("spread", {}).get(other)}
                for other, _, _ in SECONDARY.get(task, ())}
            if task == "points":
                rows[-1].update({f"{name}_delta": source.get("average_pts_within_thresh")
                                 for name, source in (("mae", mae["metrics"]),
                                                      ("random", random["metrics"]),
                                                      ("trivial", mae["trivial"]))})
        if len(rows) < 2:
            continue
        summary[task] = {"metric": key, "higher_is_better": higher, "label": label,
                         "rows": rows, **task_conclusion(task, rows, results["pretrain"])}
        real = results.get("data", {}).get("probes", {}).get(task)
        if real:
            summary[task]["eval_data"] = real["eval"]
    results["summary"] = summary
    return results


def _secondary_lines(task: str, rows: list[dict]) -> list[str]:
    """One line per `SECONDARY` metric of `task` at the largest size (not counted)."""
    lines = []
    for key, higher, label in SECONDARY.get(task, ()):
        r = rows[-1]["secondary"][key]
        a, b, sa, sb = r["mae"], r["random"], r["mae_spread"], r["random_spread"]
        verdict = ("pretrained ahead beyond the spread" if _apart(a, sa, b, sb, higher) else
                   "random init ahead beyond the spread" if _apart(b, sb, a, sa, higher)
                   else "a tie within the spread")
        lines.append(f"- Not counted, {label} at {rows[-1]['size']} (pretrained / random / "
                     f"trivial): {_cell(a, sa)} / {_cell(b, sb)} / {_fmt(r['trivial'])}, "
                     f"{verdict}.")
    return lines


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


def _four_d(summary: dict) -> dict:
    return {t: s for t, s in summary.items() if t in FOUR_D_TASKS}


def _mean_baseline(results: dict):
    """The held-out loss of predicting the mean target (the same clips for every size)."""
    values = [p.get("heldout_mean_baseline") for p in results["pretrain"].values()]
    return next((v for v in values if v is not None), None)


def _causes(results: dict) -> list[str]:
    """The measurements behind the verdicts: held-out MAE loss per size and the
    closed-form feature probes' R^2 per size and init."""
    lines = ["## Measured causes", "",
             "Held-out MAE loss: the reconstruction loss on the evaluation scenes with fixed "
             f"masks (predicting every hidden tubelet as the mean target scores "
             f"{_fmt(_mean_baseline(results))}). Feature probes: "
             "closed-form ridge regressions from each token's frozen features to its "
             "patch's targets, fit on the probe-training scenes and scored (R^2) on the "
             "held-out ones; higher means the features carry more of that target linearly. "
             "Matching: the fraction of tracks whose first-frame token finds, by cosine "
             "similarity alone, the token that holds the track in each later token frame "
             "(no head trained).",
             ""]
    probes = results.get("feature_probes", {})
    targets = sorted({t for p in probes.values() for init in p.values() for t in init})
    header = ["size", "held-out MAE loss"] + [
        "matching accuracy (MAE / random)" if t == "matching" else f"{t} R^2 (MAE / random)"
        for t in targets]
    lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for size in results["sizes"]:
        name = size["name"]
        held = results["pretrain"].get(name, {}).get("heldout_loss")
        cells = [name, _fmt(held)]
        for t in targets:
            got = probes.get(name, {})
            cells.append(f"{_fmt(got.get('mae', {}).get(t))} / {_fmt(got.get('random', {}).get(t))}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _head_lines(results: dict) -> list[str]:
    """Whether every head read features only; heads that did not are named as yardsticks."""
    hand_made = sorted({f"{task} ({', '.join(e['hand_made_paths'])})"
                        for task, sizes in results["probes"].items() for inits in sizes.values()
                        for e in inits.values() if e.get("hand_made_paths")})
    if not hand_made:
        return ["Every head reads encoder features only (no pixel decoding, template "
                "matching, cost volume or feature differences inside it).", ""]
    return [f"**Yardstick heads, not feature readouts**: {'; '.join(hand_made)}. Their "
            f"verdicts measure the head's hand-made path as much as the encoder.", ""]


def render_markdown(results: dict) -> str:
    """`report.md` text from summarised results."""
    budget, timing = results["budget"], results["timing"]
    mode = ("fine-tuned readouts (encoder + head)" if budget.get("fine_tune")
            else "frozen readouts")
    lines = [
        "# keras4ds miniature 4DS study",
        "",
        f"Backend `{results['backend']}`, budget `{results['budget_name']}`: "
        f"{len(results['sizes'])} encoder sizes on {budget['num_frames']}x"
        f"{budget['image_size']}x{budget['image_size']} procedural clips "
        f"(patch {tuple(budget['patch_size'])}), MAE pretraining for "
        f"{budget['pretrain_steps']} steps of batch {budget['pretrain_batch']} "
        f"(mask ratio {budget['mask_ratio']}, {budget.get('decoder', 'standard')} decoder, "
        f"{budget.get('mae_targets', 'normalized')} pixel targets) on "
        f"{budget['pretrain_clips']} scenes, {mode} trained for {budget['probe_steps']} steps "
        f"of batch {budget['probe_batch']} on {budget['probe_train_clips']} scenes and "
        f"evaluated on {budget['eval_clips']} held-out scenes. Readouts read "
        + ("the last hidden state h_L" if budget.get("readout", "last") == "last"
           else "the official 0.95-depth hidden state")
        + (f"; scene options {budget['scene_options']}" if budget.get("scene_options") else "")
        + (f"; per-task probe arguments {budget['task_probe_kwargs']}"
           if budget.get("task_probe_kwargs") else "")
        + (f"; per-task training {budget['task_training']}"
           if budget.get("task_training") else "") + ".",
        "",
        *_head_lines(results),
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
        "static points, first-frame box, majority class).",
        "",
        f"Noise: every value is shown ± the half-width of its "
        f"{100 * NON_OVERLAP_LEVEL:.1f}% bootstrap interval over the held-out clips "
        f"({budget.get('bootstrap')} resamples, the same resamples for every cell). A "
        f"difference counts only when the two intervals do not overlap; otherwise it is a "
        f"tie. For independent results that is about a two-sided 5% test; every cell here is "
        f"scored on the same clips, whose clip-to-clip variation both intervals carry, so it "
        f"is stricter than a paired test.",
        "",
        "## MAE pretraining",
        "",
        "| size | parameters | first loss | last loss | held-out loss | minutes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        p = results["pretrain"].get(size["name"])
        if p is None:
            continue
        lines.append(f"| {size['name']} | {size['parameters']:,} | {_fmt(p['first_loss'])} | "
                     f"{_fmt(p['last_loss'])} | {_fmt(p.get('heldout_loss'))} | "
                     f"{p['seconds'] / 60:.1f} |")
    lines += ["", "![MAE loss](mae_loss.png)", ""]
    for task, s in results["summary"].items():
        role = "" if task in FOUR_D_TASKS else " (semantic reference, not a 4D task)"
        lines += [f"## {task}{role}: {s['label']}", "",
                  "| size | parameters | MAE-pretrained | random init | trivial baseline |",
                  "|---|---:|---:|---:|---:|"]
        for r in s["rows"]:
            lines.append(f"| {r['size']} | {r['parameters']:,} | "
                         f"{_cell(r['mae'], r.get('mae_spread'))} | "
                         f"{_cell(r['random'], r.get('random_spread'))} | "
                         f"{_cell(r['trivial'], r.get('trivial_spread'))} |")
        per_size = ", ".join(f"{k}: {'yes' if v else 'no'}"
                             for k, v in s["pretrained_beats_random_per_size"].items())
        lines += ["",
                  f"- Pretrained beats random init beyond the spread at the largest size: "
                  f"{_yes_no(s['pretrained_beats_random_at_largest'])} (per size: {per_size}).",
                  f"- Largest pretrained beats smallest pretrained beyond the spread: "
                  f"{_yes_no(s['largest_beats_smallest'])}.",
                  f"- Largest pretrained beats the trivial baseline beyond the spread: "
                  f"{_yes_no(s['largest_beats_trivial'])}."]
        for reason in s["reasons"]:
            lines.append(f"- Why not: {reason}.")
        lines += _secondary_lines(task, s["rows"])
        if task in METRIC_NOTES:
            lines += ["", METRIC_NOTES[task]]
        lines += ["", f"![{task}]({task}_scaling.png)", ""]
    four_d = _four_d(results["summary"])
    wins = sum(s["pretrained_beats_random_at_largest"] for s in four_d.values())
    scale = sum(s["largest_beats_smallest"] for s in four_d.values())
    trivial = sum(s["largest_beats_trivial"] for s in four_d.values())
    n = len(four_d)
    lines += ["## Verdict", "",
              f"On the {n} 4D tasks, beyond the measured spread: pretrained beats random init "
              f"at the largest size on {wins} of {n}; the largest pretrained encoder beats the "
              f"smallest on {scale} of {n}; the largest pretrained encoder beats the trivial "
              f"answer on {trivial} of {n} (the paper's picture: {n} of {n} each).", "",
              *_causes(results),
              "Example predictions of the largest pretrained encoder's readouts on "
              "held-out scenes: `examples_depth.png`, `examples_points.png`, "
              "`examples_boxes.png`.", ""]
    return "\n".join(lines)
