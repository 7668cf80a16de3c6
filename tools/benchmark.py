"""Speed and memory of keras4ds models on every Keras backend.

    python tools/benchmark.py --size b --batch 1 --backend jax tensorflow torch
    python tools/benchmark.py --suite encoder       # writes benchmarks/encoder.md (+ .json)
    python tools/benchmark.py --suite variants      # writes benchmarks/variants.md (+ .json):
                                                    # attention kernels, XLA, bf16, long videos
    python tools/benchmark.py --suite mae_step      # writes benchmarks/mae_step.md (+ .json):
                                                    # MAE step per decoder / encoder forward

Each (case, backend, size, batch) runs in a fresh subprocess with KERAS_BACKEND set, so its
peak memory is the process's RSS high-water mark (`resource.getrusage`). Forward passes are
compiled by `keras4ds.inference.compile_forward`: `jax.jit` of a stateless call on jax,
`tf.function(jit_compile=True)` on tensorflow, `torch.no_grad()` (and `--torch-compile`) on
torch. Achieved FLOP/s is the analytic matmul FLOP count (2 per multiply-add) over the
measured time, compared with this machine's float32 matrix-multiply peak measured in the
same run (numpy and jax); tools/performance.py times keras4ds against the official
Flax encoder and the PyTorch port, interleaved. The load average is recorded around every
case: numbers taken on a busy machine are noisy.

Cases: `encoder` (forward), `depth` (DepthModel forward), and when the packages exist,
`mae` (`keras4ds.mae` train step) and `readout` (`keras4ds.readouts` train step), and
`attention` (encoder forward with our attention against `keras.ops.dot_product_attention`,
interleaved), `long` (windowed encoder features of a `--frames`-long video read from an HDF5 file, blocks
dropped as they come: peak memory should not grow with the video length).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from keras4ds.utils import write_text  # noqa: E402

RESULT_TAG = "BENCHMARK_RESULT "
BACKENDS = ("jax", "tensorflow", "torch")
CASES = ("encoder", "depth", "mae", "readout", "long", "attention", "attention_depth")
# ----------------------------------------------------------------------------- FLOP counts
def encoder_flops(width, depth, mlp_dim, num_tokens, patch_dim, batch=1, blocks=None):
    """Matmul FLOPs (2 per multiply-add) of one encoder forward over `num_tokens` tokens."""
    blocks = depth if blocks is None else blocks
    n, d = num_tokens, width
    embed = 2 * n * patch_dim * d
    per_block = 2 * n * 4 * d * d + 2 * 2 * n * n * d + 2 * 2 * n * d * mlp_dim
    return batch * (embed + blocks * per_block)


def readout_flops(num_features, channels, num_params, num_queries, num_classes, batch=1):
    """Matmul FLOPs of one AttentionReadout forward: features `(num_features, channels)`."""
    f, c, p, q = num_features, channels, num_params, num_queries
    keys_values = 2 * 2 * f * c * p
    attention = 2 * 2 * q * f * p
    token = 2 * q * p * p + 2 * 2 * q * p * 4 * p + 2 * q * p * num_classes
    return batch * (keys_values + attention + token)


# ----------------------------------------------------------------------------- peak matmul
def matmul_peak(n=2048, repeats=5):
    """Best float32 matmul FLOP/s of numpy and of jax (jit) on this machine, `n x n`."""
    import numpy as np
    a = np.random.default_rng(0).standard_normal((n, n), np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), np.float32)
    flops = 2.0 * n ** 3
    peaks = {}
    a @ b
    peaks["numpy"] = max(flops / _seconds(lambda: a @ b) for _ in range(repeats))
    if importlib.util.find_spec("jax"):
        import jax
        f = jax.jit(lambda x, y: x @ y)
        ja, jb = jax.numpy.asarray(a), jax.numpy.asarray(b)
        f(ja, jb).block_until_ready()
        peaks["jax"] = max(flops / _seconds(lambda: f(ja, jb).block_until_ready())
                           for _ in range(repeats))
    return peaks


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- worker side
def _build(case, spec):
    """Model and input for a case. Returns (model, video, flops, tokens per clip) or None."""
    import keras
    import numpy as np

    from keras4ds.models import DepthModel, FourDSEncoder

    keras.utils.set_random_seed(0)
    frames, res = spec["frames"], spec["resolution"]
    encoder = FourDSEncoder.from_size(spec["size"], num_frames=frames, image_size=(res, res))
    video = np.random.default_rng(0).uniform(0, 1, (spec["batch"], frames, res, res, 3))
    video = video.astype("float32")
    patch_dim = int(np.prod(encoder.patch_size)) * 3
    args = (encoder.width, encoder.depth, encoder.mlp_dim, encoder.num_tokens, patch_dim,
            spec["batch"])
    if case == "encoder":
        return encoder, video, encoder_flops(*args), encoder.num_tokens
    if case == "depth":
        model = DepthModel(encoder, num_params=spec["readout_params"],
                           num_heads=spec["readout_heads"])
        t, h, w = encoder.grid
        flops = encoder_flops(*args, blocks=model.readout_index) + readout_flops(
            frames * h * w, encoder.width, model.num_params,
            int(np.prod(model.output_grid)), int(np.prod(model.decoding_patch_size)),
            spec["batch"])
        return model, video, flops, encoder.num_tokens
    raise ValueError(f"unknown forward case {case!r}")


def _to_backend(video):
    from keras import ops
    return ops.convert_to_tensor(video)


def _train_case(case, spec):
    """A Keras train step (`train_on_batch`, jit-compiled where Keras does) for mae/readout.

    mae: `keras4ds.mae.MaskedAutoencoder` at mask ratio 0.95 (encoder on 5% of the tokens).
    readout: `keras4ds.readouts.DepthProbe` (attention head) on a frozen encoder.
    Returns {"step", "tokens"} or {"skipped": why} when the package is not there.
    """
    module = {"mae": "keras4ds.mae", "readout": "keras4ds.readouts"}[case]
    if importlib.util.find_spec(module) is None:
        return {"skipped": f"{module} not present"}
    import keras
    import numpy as np

    from keras4ds.models import FourDSEncoder
    keras.utils.set_random_seed(0)
    frames, res, batch = spec["frames"], spec["resolution"], spec["batch"]
    encoder = FourDSEncoder.from_size(spec["size"], num_frames=frames, image_size=(res, res))
    rng = np.random.default_rng(0)
    video = rng.uniform(0, 1, (batch, frames, res, res, 3)).astype("float32")
    if case == "mae":
        from keras4ds.mae import MaskedAutoencoder
        model = MaskedAutoencoder(encoder, mask_ratio=0.95, decoder=spec.get("decoder", "standard"),
                                  target_ratio=spec.get("target_ratio"),
                                  **{k: spec[k] for k in DECODER_SIZE if k in spec})
        model.compile(optimizer=keras.optimizers.AdamW(1e-4))
        step = lambda: model.train_on_batch(video)  # noqa: E731
    else:
        from keras4ds.readouts import DepthProbe
        model = DepthProbe(encoder, frozen=True, num_params=spec["readout_params"],
                           num_heads=spec["readout_heads"])
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        depth = rng.uniform(0.5, 5.0, (batch, frames, res, res, 1)).astype("float32")
        step = lambda: model.train_on_batch({"video": video}, {"depth": depth})  # noqa: E731
    return {"step": step, "tokens": encoder.num_tokens}


def _long_video_case(spec):
    """Stream windowed encoder features over an on-disk (HDF5) video; returns a result dict."""
    import h5py
    import numpy as np

    from keras4ds.inference import iter_encoder_features
    from keras4ds.models import FourDSEncoder
    res, frames = spec["resolution"], spec["frames"]
    encoder = FourDSEncoder.from_size(spec["size"], image_size=(res, res))
    with tempfile.TemporaryDirectory() as tmp, h5py.File(os.path.join(tmp, "v.h5"), "w") as f:
        # an on-disk video read window by window (a memmap would count its pages as RSS)
        video = f.create_dataset("video", (spec["batch"], frames, res, res, 3), np.float32)
        rng = np.random.default_rng(0)
        for t in range(frames):
            video[:, t] = rng.uniform(0, 1, (spec["batch"], res, res, 3))
        rss_model = _rss_mb()
        start = time.perf_counter()
        steps = sum(block.shape[1] for _, block in iter_encoder_features(
            encoder, video, window=16, progress=False))
        seconds = time.perf_counter() - start
    tokens = steps * encoder.grid[1] * encoder.grid[2]
    return {"rss_model_mb": rss_model, "compile_s": None, "seconds_median": seconds,
            "seconds_min": seconds, "iters": 1, "clips_per_s": spec["batch"] / seconds,
            "tokens_per_s": spec["batch"] * tokens / seconds, "tokens_per_clip": tokens,
            "flops": None, "flop_per_s": None, "peak_rss_mb": _rss_mb()}


def _attention_case(spec):
    """Forward with `layers.heads_first_attention` against, interleaved, the backend's
    `keras.ops.dot_product_attention` and heads-first attention without score blocks
    (`layers.SCORE_BLOCK_ELEMENTS` unbounded), on the same weights: the measurement behind
    `layers.heads_first_attention_is_faster` and the block size. Case `attention` times
    the encoder, `attention_depth` the depth model (encoder + cross-attention readout)."""
    import numpy as np
    from keras import ops

    from keras4ds.inference import compile_forward
    from keras4ds.models import layers
    model, video, flops, tokens = _build(
        "depth" if spec["case"] == "attention_depth" else "encoder", spec)
    video = _to_backend(video)
    chosen, block, forwards, outputs = layers.multi_head_attention, layers.SCORE_BLOCK_ELEMENTS, {}, {}
    def generic(query, key, value, training=False):
        return ops.dot_product_attention(query, key, value)

    def heads_first(query, key, value, training=False):
        return layers.heads_first_attention(query, key, value)

    variants = (("generic", generic, block), ("heads_first", heads_first, block),
                ("unblocked", heads_first, 2 ** 62))
    try:
        for name, attention, elements in variants:
            # both read when the forward is traced, at its first call
            layers.multi_head_attention, layers.SCORE_BLOCK_ELEMENTS = attention, elements
            forwards[name] = compile_forward(model.call, model.variables)
            outputs[name] = ops.convert_to_numpy(forwards[name](video))
    finally:
        layers.multi_head_attention, layers.SCORE_BLOCK_ELEMENTS = chosen, block
    rss_model = _rss_mb()
    difference = max(np.abs(outputs[name] - outputs["generic"]).max() for name in outputs)
    times = {name: [] for name in forwards}
    for _ in range(spec["iters"]):
        for name, fn in forwards.items():
            times[name].append(_seconds(lambda: ops.convert_to_numpy(fn(video))))
    seconds = statistics.median(times["heads_first"])
    return {"rss_model_mb": rss_model, "compile_s": None, "seconds_median": seconds,
            "seconds_min": min(times["heads_first"]), "iters": spec["iters"],
            "clips_per_s": spec["batch"] / seconds, "tokens_per_s": spec["batch"] * tokens / seconds,
            "tokens_per_clip": tokens, "flops": flops, "flop_per_s": flops / seconds,
            "generic_clips_per_s": spec["batch"] / statistics.median(times["generic"]),
            "unblocked_clips_per_s": spec["batch"] / statistics.median(times["unblocked"]),
            "heads_first_chosen": layers.heads_first_attention_is_faster(),
            "max_relative_difference": float(difference / np.abs(outputs["generic"]).max()),
            "peak_rss_mb": _rss_mb()}


def run_worker(spec):
    """Time one case in this process; print one `BENCHMARK_RESULT {json}` line."""
    import keras
    backend = keras.backend.backend()
    keras.config.set_dtype_policy(spec.get("policy", "float32"))
    result = {**spec, "backend": backend, "load_before": os.getloadavg()[0]}
    if spec["case"] in ("long", "attention", "attention_depth"):
        case = {"long": _long_video_case, "attention": _attention_case,
                "attention_depth": _attention_case}[spec["case"]]
        result.update(case(spec), load_after=os.getloadavg()[0])
        print(RESULT_TAG + json.dumps(result), flush=True)
        return
    if spec["case"] in ("mae", "readout"):
        step = _train_case(spec["case"], spec)
        if "skipped" in step:
            result["skipped"] = step["skipped"]
            print(RESULT_TAG + json.dumps(result), flush=True)
            return
        run, flops, tokens, video = step["step"], None, step["tokens"], None
        call = lambda _: run()  # noqa: E731
    else:
        from keras4ds.inference import compile_forward
        model, video, flops, tokens = _build(spec["case"], spec)
        video = _to_backend(video)
        call = compile_forward(model.call, model.variables, spec["torch_compile"],
                               spec.get("tf_xla", True))
        if backend == "tensorflow":
            call = (lambda step: lambda x: step(x).numpy())(call)
    result["rss_model_mb"] = _rss_mb()
    result["compile_s"] = _seconds(lambda: call(video))
    for _ in range(spec["warmup"] - 1):
        call(video)
    times = [_seconds(lambda: call(video)) for _ in range(spec["iters"])]
    seconds = statistics.median(times)
    result.update(
        seconds_median=seconds, seconds_min=min(times), iters=len(times),
        clips_per_s=spec["batch"] / seconds,
        tokens_per_s=spec["batch"] * tokens / seconds, tokens_per_clip=tokens,
        flops=flops, flop_per_s=(flops / seconds) if flops else None,
        peak_rss_mb=_rss_mb(), load_after=os.getloadavg()[0])
    print(RESULT_TAG + json.dumps(result), flush=True)


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------- parent side
def run_case(spec, backend, timeout=900):
    """Run one case in a fresh subprocess under `backend`; returns its result dict."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**spec, "backend": backend, "error": f"timed out after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {**spec, "backend": backend, "error": " | ".join(tail) or f"exit {proc.returncode}"}


def machine_info(peaks):
    import numpy as np
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": _cpu_name(), "cores": os.cpu_count(), "numpy": np.__version__,
            "matmul_peak_flop_per_s": peaks, "peak_flop_per_s": max(peaks.values()),
            "gpu": "none in this run: GPU numbers not measured", "load_start": os.getloadavg()}
    for name in ("keras", "jax", "tensorflow", "torch"):
        if importlib.util.find_spec(name):
            try:
                from importlib.metadata import version
                info[name] = version(name if name != "tensorflow" else "tensorflow-cpu")
            except Exception:  # noqa: BLE001 - metadata name differs per install
                info[name] = "installed"
    return info


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_all(specs, backends, on_update=None, timeout=900):
    """Measure the matmul peak, then every spec on every backend (progress with tqdm).

    `on_update(report)` is called after every case with the report so far (cases not run
    yet are listed with `"pending": True`), so an interrupted run keeps what it measured.
    """
    from tqdm import tqdm
    peaks = matmul_peak()
    info = machine_info(peaks)
    results = []
    jobs = [(spec, backend) for spec in specs for backend in backends
            if backend in (spec.get("backends") or backends)]
    for i, (spec, backend) in enumerate(tqdm(jobs, desc="benchmark", unit="case")):
        result = run_case(spec, backend, timeout)
        if result.get("flop_per_s"):
            result["peak_fraction"] = result["flop_per_s"] / info["peak_flop_per_s"]
        results.append(result)
        tqdm.write(_one_line(result))
        info["load_end"] = os.getloadavg()
        if on_update:
            pending = [{**s, "backend": b, "pending": True} for s, b in jobs[i + 1:]]
            on_update({"machine": info, "results": results + pending})
    return {"machine": info, "results": results}


def _one_line(r):
    head = (f"{r['case']:9s} 4DS-{r['size'].upper():2s} b={r['batch']} {r['frames']}x"
            f"{r['resolution']} {r['backend']:10s}")
    if "error" in r or "skipped" in r:
        return f"{head} {r.get('error') or 'skipped: ' + r['skipped']}"
    return (f"{head} {r['clips_per_s']:.3f} clips/s {r['tokens_per_s']:.0f} tok/s "
            f"peak RSS {r['peak_rss_mb']:.0f} MB load {r['load_before']:.2f}->{r['load_after']:.2f}")


# ----------------------------------------------------------------------------- reports
def markdown(report, title, command):
    m = report["machine"]
    peaks = ", ".join(f"{k} {v / 1e9:.1f}" for k, v in m["matmul_peak_flop_per_s"].items())
    lines = [f"# {title}", "", "Generated by:", "", "```bash", command, "```", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, "
             + ", ".join(f"{k} {m[k]}" for k in ("keras", "jax", "tensorflow", "torch") if k in m)
             + ".", "",
             f"float32 matmul peak measured in the same run (2048x2048, best of 5), GFLOP/s: "
             f"{peaks}; the fraction column uses the best, {m['peak_flop_per_s'] / 1e9:.1f}.",
             f"Load average (1 min) at start {m['load_start'][0]:.2f}, at end "
             f"{m['load_end'][0]:.2f}; per case before -> after in the table. The machine is "
             f"shared: numbers taken under load > 0.5 are noisy.", "",
             "| case | model | batch | input | backend | clips/s | tokens/s | GFLOP/s | "
             "of peak | peak RSS MB | model RSS MB | compile s | iters | load |",
             "| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | --- |"]
    for r in report["results"]:
        model = f"4DS-{r['size'].upper()}"
        shape = f"{r['frames']}x{r['resolution']}x{r['resolution']}"
        head = f"| {r['case']} | {model} | {r['batch']} | {shape} | {backend_label(r)} |"
        if "error" in r or "skipped" in r or r.get("pending"):
            why = (r.get("error") or r.get("skipped") or "not run yet").replace("|", "/")
            kind = "error: " if "error" in r else "skipped: " if "skipped" in r else ""
            lines.append(f"{head} {kind}{why} |" + " |" * 9)
            continue
        gflops = f"{r['flop_per_s'] / 1e9:.1f}" if r.get("flop_per_s") else "n/a"
        frac = f"{r['peak_fraction']:.2f}" if r.get("peak_fraction") else "n/a"
        compile_s = "in time" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
        lines.append(f"{head} {r['clips_per_s']:.3f} | {r['tokens_per_s']:.0f} | {gflops} | "
                     f"{frac} | {r['peak_rss_mb']:.0f} | {r['rss_model_mb']:.0f} | "
                     f"{compile_s} | {r['iters']} | "
                     f"{r['load_before']:.2f}->{r['load_after']:.2f} |")
    lines += _mae_vs_forward(report["results"])
    lines += _attention_rows(report["results"])
    lines += _target_rows(report)
    lines += ["", "Which attention kernel runs where "
              "(`keras4ds.models.layers.multi_head_attention`, used by the encoder blocks and "
              "by `AttentionReadout`): jax on CPU: heads-first batched matmuls (attention A/B "
              "rows in benchmarks/variants.md); jax on GPU/TPU: "
              "`keras.ops.dot_product_attention` (cuDNN flash "
              "attention where it applies); tensorflow: "
              "`keras.ops.dot_product_attention` (einsum + float32 softmax), XLA-compiled by "
              "`tf.function(jit_compile=True)`; torch: `keras.ops.dot_product_attention`, i.e. "
              "PyTorch's SDPA (on this CPU its fused `_scaled_dot_product_flash_attention_for_cpu`"
              " kernel; tests/inference/test_compiled_paths.py checks both paths).", "",
              "GPU: not measured (no GPU in this run): the same table in float32 and bfloat16 "
              "with model FLOPs utilisation needs a machine with one.", "",
              "keras4ds against the official Flax encoder and the PyTorch port, interleaved "
              "with the spread: `python tools/performance.py` (benchmarks/performance.md).", "",
              "Columns: clips/s and tokens/s from the median of the timed iterations after "
              "warm-up (the first call, which compiles, is the `compile s` column); GFLOP/s "
              "counts matmul FLOPs analytically (2 per multiply-add: projections, attention, "
              "MLP, tubelet embedding); peak RSS is the worker process's high-water mark, "
              "model RSS the mark before the first forward (libraries + weights). `long` rows: one "
              "clip is the whole video (input column: its length), read window by window "
              "(16 frames, stride 8) from an HDF5 file, time including compilation; their peak "
              "RSS should not grow with the length.", ""]
    return "\n".join(lines)


def _target_rows(report):
    """Markdown lines: the speed targets for 4DS-B against what this run measured."""
    peak = report["machine"]["peak_flop_per_s"]
    rows = []
    for r in report["results"]:
        if r["size"] != "b" or "clips_per_s" not in r or not is_default_variant(r):
            continue
        where = f"4DS-B batch {r['batch']}"
        if r["case"] == "encoder" and r["backend"] == "jax":
            fraction = r["flop_per_s"] / peak
            rows.append(f"| jax within 1.5x of the matmul peak | {where} | "
                        f"{fraction:.2f} of peak | {'yes' if fraction >= 1 / 1.5 else 'no'} |")
            for other in report["results"]:
                if (other["case"], other["size"], other["batch"]) == ("encoder", "b", r["batch"]) \
                        and other["backend"] != "jax" and "clips_per_s" in other \
                        and is_default_variant(other):
                    ratio = other["clips_per_s"] / r["clips_per_s"]
                    met = "yes" if ratio >= 1 / 1.3 else "no"
                    rows.append(f"| {other['backend']} within 1.3x of jax | {where} | "
                                f"{ratio:.2f}x jax's clips/s | {met} |")
    if not rows:
        return []
    return ["", "Targets for 4DS-B, from the rows above (noisy where the load was high):",
            "", "| target | case | measured | met |", "| --- | --- | --- | --- |", *rows]


def backend_label(r):
    """The backend, plus how it ran when that is not the default (float32, XLA on tf)."""
    label = r["backend"]
    if r["backend"] == "tensorflow" and not r.get("tf_xla", True):
        label += ", no XLA"
    if r["backend"] == "torch" and r.get("torch_compile"):
        label += ", torch.compile"
    if r.get("policy", "float32") != "float32":
        label += f", {r['policy']}"
    if r.get("decoder", "standard") != "standard":
        label += f", {decoder_label(r)}"
    return label


def decoder_label(r):
    """How an MAE row decodes: which decoder, its width/depth, and what fraction of the
    masked tokens it reconstructs."""
    import inspect

    from keras4ds.mae import MaskedAutoencoder
    from keras4ds.mae.model import DEFAULT_TARGET_RATIO
    decoder = r.get("decoder", "standard")
    ratio = r.get("target_ratio") or DEFAULT_TARGET_RATIO[decoder]
    defaults = inspect.signature(MaskedAutoencoder).parameters
    width, depth = (r.get(k, defaults[k].default) for k in DECODER_SIZE)
    return f"{decoder} {width}/{depth}, {ratio:.0%} of masked tokens"


def is_default_variant(r):
    return backend_label(r) == r["backend"]


def _mae_vs_forward(results):
    """Markdown lines: MAE train step cost per clip over the full-token forward's."""
    def key(r):
        return (r["size"], r["backend"], r["frames"], r["resolution"])
    forward = {}
    for r in results:
        if r["case"] == "encoder" and "clips_per_s" in r and is_default_variant(r):
            forward.setdefault(key(r), r)
    rows = []
    for r in results:
        base = forward.get(key(r))
        if r["case"] == "mae" and "clips_per_s" in r and base:
            ratio = base["clips_per_s"] / r["clips_per_s"]
            rows.append(f"| 4DS-{r['size'].upper()} | {r['backend']} | {decoder_label(r)} | "
                        f"{r['batch']} | "
                        f"{1 / r['clips_per_s']:.3f} | {base['batch']} | "
                        f"{1 / base['clips_per_s']:.3f} | {ratio:.2f} |")
    if not rows:
        return []
    return ["", "MAE train step (mask ratio 0.95, encoder on 5% of the tokens, forward + "
            "backward + AdamW; decoder given as kind width/depth, 8 heads) against the "
            "full-token encoder forward, seconds per clip. The standard decoder runs over the "
            "visible and all masked tokens; the masked one (VideoMAE V2's decoder masking) over "
            "the visible and a random part of the masked tokens; the cross one (position-only "
            "queries cross-attending to the visible tokens) over its part of the masked tokens "
            "alone. The loss is taken on the part decoded:", "",
            "| model | backend | decoder | MAE batch | MAE s/clip | forward batch | "
            "forward s/clip | MAE / forward |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |", *rows]


def _attention_rows(results):
    """Markdown lines for the attention A/B cases."""
    def unblocked(r):
        return f"{r['unblocked_clips_per_s']:.3f}" if "unblocked_clips_per_s" in r else "n/a"
    rows = [f"| {'depth model' if r['case'] == 'attention_depth' else 'encoder'} | "
            f"4DS-{r['size'].upper()} | {r['batch']} | {r['backend']} | "
            f"{r['generic_clips_per_s']:.3f} | {unblocked(r)} | {r['clips_per_s']:.3f} | "
            f"{r['clips_per_s'] / r['generic_clips_per_s']:.2f} | "
            f"{r['max_relative_difference']:.1e} | "
            f"{'heads-first' if r['heads_first_chosen'] else 'generic'} |"
            for r in results
            if r["case"] in ("attention", "attention_depth") and "clips_per_s" in r]
    if not rows:
        return []
    return ["", "Attention on CPU: the same forward with `keras.ops.dot_product_attention` "
            "(generic), with heads-first batched matmuls over all (batch, head) pairs at once "
            "(unblocked) and with `keras4ds.models.layers.heads_first_attention` (the same in "
            "groups of pairs whose scores fit `SCORE_BLOCK_ELEMENTS`, 16 MB), same weights, "
            "interleaved iterations; speed-up = heads-first over generic. The last column is "
            "what `layers.multi_head_attention` (encoder and readouts) uses on this backend and "
            "device; on a GPU/TPU it is always the generic, flash-capable call, on torch "
            "always PyTorch's SDPA:", "",
            "| model | size | batch | backend | generic clips/s | unblocked clips/s | "
            "heads-first clips/s | speed-up | max relative difference | used |",
            "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |", *rows]


JAX = ("jax",)
BF16 = {"policy": "mixed_bfloat16"}
# An MAE row's decoder size settings; unset, the MaskedAutoencoder defaults.
DECODER_SIZE = ("decoder_width", "decoder_depth")
# The decoders the MAE step suite compares: today's default, decoder masking, and the
# cheaper candidates (half the width, half the depth, a quarter of the masked tubelets).
MAE_STEP_DECODERS = (
    {"decoder": "standard"},
    {"decoder": "masked"},
    {"decoder": "masked", "decoder_width": 256, "decoder_depth": 2, "target_ratio": 0.25},
    {"decoder": "cross", "decoder_width": 256, "decoder_depth": 2, "target_ratio": 0.25},
)

SUITES = {
    # name: (title, output, [(case, size, batch, iters, frames, backends, options)]),
    # None = the command-line value / every backend; rows run in this order.
    "encoder": ("4DS-B encoder forward on this CPU", "benchmarks/encoder.md",
                [("encoder", "b", 1, 3)]),
    "mae_step": ("MAE train step per decoder against the full-token encoder forward",
                 "benchmarks/mae_step.md", [
        ("encoder", "s", 1, 3), ("encoder", "b", 1, 2),
        *[("mae", size, 2, iters, None, None, decoder) for size, iters in (("s", 3), ("b", 2))
          for decoder in MAE_STEP_DECODERS],
        # the cheap decoders at a larger batch (the encoder's matmuls on 5% of the tokens
        # are small at batch 2)
        *[("mae", size, 8, 2, None, None, decoder) for size in ("s", "b")
          for decoder in MAE_STEP_DECODERS[2:]]]),
    "variants": ("keras4ds run variants: attention kernels, XLA, bfloat16, torch.compile, "
                 "long videos", "benchmarks/variants.md", [
        # how each backend is run, measured: attention kernel, XLA on tf, bfloat16 (not
        # parity-bound), torch.compile
        ("encoder", "s", 1, 3), ("attention", "s", 1, 3), ("attention", "s", 8, 1, None, JAX),
        ("attention_depth", "s", 1, 2, None, ("jax", "tensorflow")),
        ("encoder", "s", 1, 3, None, ("tensorflow",), {"tf_xla": False}),
        ("encoder", "s", 1, 3, None, None, BF16),
        ("encoder", "s", 1, 3, None, ("torch",), {"torch_compile": True, "warmup": 3}),
        # windowed inference: peak memory against video length (jax)
        ("long", "ti", 1, 1, 32, JAX), ("long", "ti", 1, 1, 128, JAX),
        ("long", "ti", 1, 1, 512, JAX)]),
}


def _spec(args, case, size, batch, iters, frames=None, backends=None, options=None):
    """One case's settings; `options` (e.g. {"policy": "mixed_bfloat16"}) override the flags."""
    return {"case": case, "size": size, "batch": batch, "frames": frames or args.frames,
            "backends": list(backends) if backends else None,
            "resolution": args.resolution, "iters": iters, "warmup": args.warmup,
            "torch_compile": args.torch_compile, "tf_xla": not args.no_xla,
            "policy": args.policy, "readout_params": args.readout_params,
            "readout_heads": args.readout_heads, **(options or {})}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--suite", choices=sorted(SUITES), help="a fixed set written to benchmarks/")
    p.add_argument("--case", nargs="+", default=["encoder"], choices=CASES)
    p.add_argument("--size", nargs="+", default=["b"], help="4DS sizes, e.g. s b")
    p.add_argument("--batch", nargs="+", type=int, default=[1])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--backend", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--iters", type=int, default=3, help="timed iterations after warm-up")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls (the first compiles)")
    p.add_argument("--torch-compile", action="store_true", help="torch.compile on torch")
    p.add_argument("--no-xla", action="store_true",
                   help="tensorflow: a plain tf.function graph instead of jit_compile=True")
    p.add_argument("--policy", default="float32", choices=["float32", "mixed_bfloat16"],
                   help="Keras dtype policy (mixed_bfloat16 rows are not parity-bound)")
    p.add_argument("--readout-params", type=int, default=1024, help="depth readout width P")
    p.add_argument("--readout-heads", type=int, default=16)
    p.add_argument("--timeout", type=int, default=900, help="seconds allowed per case")
    p.add_argument("--json", help="write the full report as JSON here (a suite: next to "
                   "its markdown by default)")
    p.add_argument("--render", help="only rewrite the markdown from this saved JSON report")
    p.add_argument("--markdown", help="write a markdown table here")
    args = p.parse_args(argv)
    for name, value in (("--frames", args.frames), ("--resolution", args.resolution)):
        if value <= 0:
            p.error(f"{name} must be positive, got {value}")
    if args.iters < 1 or args.warmup < 1:
        p.error("--iters and --warmup must be >= 1")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        run_worker(json.loads(args.worker))
        return 0
    if args.suite:
        title, stem, rows = SUITES[args.suite]
        specs = [_spec(args, *row) for row in rows]
        md_path = os.path.join(REPO, stem)
        json_path = args.json or os.path.splitext(md_path)[0] + ".json"
        command = f"python tools/benchmark.py --suite {args.suite}"
    else:
        title = "keras4ds benchmark"
        specs = [_spec(args, c, s, b, args.iters)
                 for c in args.case for s in args.size for b in args.batch]
        json_path, md_path = args.json, args.markdown
        command = "python tools/benchmark.py " + " ".join(sys.argv[1:] if argv is None else argv)

    def write(report):
        if json_path:
            write_text(json_path, json.dumps(report, indent=1) + "\n")
        text = markdown(report, title, command)
        if md_path:
            write_text(md_path, text)
        return text
    if args.render:  # rewrite the reports from a saved JSON report, measuring nothing
        with open(args.render) as f:
            print(write(json.load(f)))
        return 0
    report = run_all(specs, args.backend, on_update=write, timeout=args.timeout)
    text = write(report)
    print(text)
    return 1 if any("error" in r for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
