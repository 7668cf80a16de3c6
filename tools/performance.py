"""benchmarks/performance.md in one command: the 4DS encoder forward of every system, timed
interleaved with its run-to-run spread, against the float32 matmul limit of the same run.

    python tools/performance.py            # benchmarks/performance.md, .json and .png
    python tools/performance.py --sizes s --batches 1 --rounds 3 --out /tmp/perf.md
    python tools/performance.py --render benchmarks/performance.json   # re-render only

Systems, each in its own long-lived worker (`tools/performance_worker.py`), built once per
size and batch: keras4ds on jax, tensorflow and torch, the official Flax encoder (jax, in the
Python `tools/setup_references.py` makes) and the PyTorch port (torch). All load one
official-format `.npz` of random weights and see the same input `(B, 16, 224, 224, 3)`
floats in [0, 1]. A round times every system once, in a rotating order, so a drift of the
machine hits all alike; a system's spread is its range over the rounds, and every ratio is
taken within a round (paired) before its median and range. The matmul limit is the best
float32 rate of numpy, jax, tensorflow and torch at square shapes and at the encoder's own,
measured at the start and at the end of the run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, REPO)
sys.path.insert(0, TOOLS)

from reference_systems import (  # noqa: E402
    find_official_python,
    find_torch_port,
    official_format_file,
)

WORKER = os.path.join(TOOLS, "performance_worker.py")
# (system, backend): every encoder this run times; the backend is the worker's KERAS_BACKEND
SYSTEMS = (("keras4ds", "jax"), ("keras4ds", "tensorflow"), ("keras4ds", "torch"),
           ("official", "jax"), ("torch_port", "torch"))
MATMUL_LIBRARIES = ("numpy", "jax", "tensorflow", "torch")


class Worker:
    """A worker process: started, asked for timings, closed."""

    def __init__(self, spec, backend, python=None):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.name = spec.get("label", spec["system"])
        self.proc = subprocess.Popen([python or sys.executable, WORKER, json.dumps(spec)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.ready = self._reply("READY")

    def time(self, count):
        self.proc.stdin.write(f"time {count}\n")
        self.proc.stdin.flush()
        return self._reply("TIMED")

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("exit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)

    def _reply(self, tag):
        for line in self.proc.stdout:
            if line.startswith(tag + " "):
                return json.loads(line[len(tag) + 1:])
        tail = " | ".join(self.proc.stderr.read().strip().splitlines()[-3:])
        raise RuntimeError(f"{self.name} worker ended without {tag}: {tail}")


def encoder_matmul_shapes(sizes, batches, tokens, squares):
    """`(m, k, n)` of the encoder's big matmuls (qkv, MLP in, MLP out) at the largest batch,
    plus the `squares`."""
    from keras4ds.models.presets import size_config
    shapes = {(n, n, n) for n in squares}
    for size in sizes:
        c = size_config(size)
        m = max(batches) * tokens
        shapes |= {(m, c["width"], 3 * c["width"]), (m, c["width"], c["mlp_dim"]),
                   (m, c["mlp_dim"], c["width"])}
    return sorted(shapes)


def measure_matmul(shapes, libraries, repeats=3):
    """{library: {shape: best FLOP/s}, "threads": {library: threads}}, interleaved by shape
    set across libraries (each library's worker runs its shapes in turn)."""
    rates, threads = {}, {}
    for library in libraries:
        backend = library if library in ("jax", "tensorflow", "torch") else "jax"
        worker = Worker({"system": "matmul", "library": library, "shapes": shapes,
                         "label": f"matmul {library}"}, backend)
        try:
            threads[library] = worker.ready["threads"]
            rates[library] = worker.time(repeats)["rates"]
        finally:
            worker.close()
    return {"rates": rates, "threads": threads}


def time_configuration(size, batch, args, systems, references):
    """Every available system at one (size, batch): first call, rounds of timings, the
    output difference against the official encoder (or keras4ds on jax without it)."""
    import numpy as np
    from tqdm import tqdm
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        npz, _, config = official_format_file(size, args.frames, args.resolution, tmp)
        video = np.random.default_rng(0).uniform(
            0, 1, (batch, args.frames, args.resolution, args.resolution, 3)).astype("float32")
        np.save(os.path.join(tmp, "video.npy"), video)
        tokens = (args.frames // 2) * (args.resolution // 16) ** 2
        workers = {}
        for system, backend in systems:
            row = {"system": system, "backend": backend, "size": size, "batch": batch,
                   "frames": args.frames, "resolution": args.resolution}
            rows.append(row)
            missing = references.get(system, ("", None))
            if system in references and missing[1] is None:
                row["skipped"] = missing[0]
                continue
            spec = {**config, "system": system, "size": size, "batch": batch,
                    "frames": args.frames, "resolution": args.resolution, "tokens": tokens,
                    "npz": npz, "video": os.path.join(tmp, "video.npy"),
                    "check": os.path.join(tmp, f"{system}_{backend}.npy"),
                    "torch_port": references.get("torch_port", ("", None))[1],
                    "label": f"{system} ({backend})"}
            python = references["official"][1] if system == "official" else None
            try:
                workers[(system, backend)] = Worker(spec, backend, python)
            except RuntimeError as error:
                row["error"] = str(error)
                continue
            row.update(workers[(system, backend)].ready, seconds=[])
        try:
            _rounds(workers, rows, args.rounds, args.seconds_per_timing, tqdm,
                    f"4DS-{size.upper()} batch {batch}")
        finally:
            for worker in workers.values():
                worker.close()
        _output_differences(rows, tmp)
    return rows


def _rounds(workers, rows, rounds, seconds_per_timing, tqdm, label):
    """A warm-up call each, then `rounds` rounds, each timing every worker once in a
    rotating order; a timing repeats the forward for about `seconds_per_timing`."""
    if not workers:
        return
    by_key = {(r["system"], r["backend"]): r for r in rows}
    warm = {key: worker.time(1)["seconds"] for key, worker in workers.items()}
    count = max(1, round(seconds_per_timing / min(warm.values())))
    keys = list(workers)
    for i in tqdm(range(rounds), desc=label, unit="round"):
        for key in keys[i % len(keys):] + keys[:i % len(keys)]:
            by_key[key]["seconds"].append(workers[key].time(count)["seconds"])
    for key in keys:
        by_key[key]["calls_per_timing"] = count


def _output_differences(rows, folder):
    """Each row's max |output - reference| / max |reference| on h_{L-1}."""
    import numpy as np
    reference = next((os.path.join(folder, f"{r['system']}_{r['backend']}.npy")
                      for name in ("official", "keras4ds") for r in rows
                      if r["system"] == name and "seconds" in r), None)
    if reference is None:
        return
    expected = np.load(reference)
    for r in rows:
        if "seconds" in r:
            got = np.load(os.path.join(folder, f"{r['system']}_{r['backend']}.npy"))
            r["max_relative_difference"] = float(np.abs(got - expected).max()
                                                 / np.abs(expected).max())
            r["compared_with"] = os.path.basename(reference)[:-4]


def machine():
    """The machine and library versions, as a report header needs them."""
    import platform
    from importlib.metadata import PackageNotFoundError, version
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cores": os.cpu_count(), "cpu": "unknown", "gpu": "none"}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f
                               if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    for name in ("keras", "jax", "tensorflow", "tensorflow-cpu", "torch", "numpy"):
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            pass
    return info


def run(args):
    """Measure everything; returns the report (also kept in `args.out`'s .json as it grows)."""
    from performance_report import write_report
    official = find_official_python(args.official_python)
    port = find_torch_port(args.torch_port)
    references = {
        "official": ("no Python imports representations4d (tools/setup_references.py)",
                     official),
        "torch_port": ("no checkout of the PyTorch port (tools/setup_references.py)", port)}
    systems = [s for s in SYSTEMS if f"{s[0]}-{s[1]}" in args.systems]
    tokens = (args.frames // 2) * (args.resolution // 16) ** 2
    shapes = encoder_matmul_shapes(args.sizes, args.batches, tokens, args.matmul_squares)
    report = {"command": args.command, "machine": machine(), "load": [os.getloadavg()[0]],
              "rounds": args.rounds, "references": {k: v[1] for k, v in references.items()},
              "matmul": [measure_matmul(shapes, args.matmul_libraries)], "rows": []}
    for size in args.sizes:
        for batch in args.batches:
            report["rows"] += time_configuration(size, batch, args, systems, references)
            report["load"].append(os.getloadavg()[0])
            write_report(report, args.out)
    report["matmul"].append(measure_matmul(shapes, args.matmul_libraries))
    report["load"].append(os.getloadavg()[0])
    write_report(report, args.out)
    return report


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=["s", "b"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--matmul-squares", nargs="+", type=int, default=[2048, 4096],
                   help="square matmul sizes measured beside the encoder's own shapes")
    p.add_argument("--matmul-libraries", nargs="+", default=list(MATMUL_LIBRARIES),
                   choices=MATMUL_LIBRARIES)
    p.add_argument("--seconds-per-timing", type=float, default=2.0,
                   help="a timing repeats the forward for about this long")
    names = [f"{s}-{b}" for s, b in SYSTEMS]
    p.add_argument("--systems", nargs="+", default=names, choices=names)
    p.add_argument("--official-python", help="a Python that imports representations4d")
    p.add_argument("--torch-port", help="a checkout of the PyTorch port")
    p.add_argument("--out", default=os.path.join(REPO, "benchmarks", "performance.md"),
                   help="the markdown; its .json and .png go beside it")
    p.add_argument("--render", help="only re-render the report from this saved .json")
    args = p.parse_args(argv)
    if args.frames <= 0 or args.frames % 2 or args.resolution <= 0 or args.resolution % 16:
        p.error(f"--frames must be a positive even number and --resolution a positive "
                f"multiple of 16, got {args.frames} and {args.resolution}")
    if args.rounds < 2 or min(args.batches) < 1:
        p.error("--rounds must be >= 2 (a spread needs two) and every batch >= 1")
    args.command = "python tools/performance.py" + "".join(f" {a}" for a in argv)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from performance_report import write_report
    if args.render:
        with open(args.render) as f:
            report = json.load(f)
        print(write_report(report, args.out))
        return 0
    report = run(args)
    print(write_report(report, args.out))
    return 1 if any("error" in r for r in report["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
