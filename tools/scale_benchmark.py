"""benchmarks/scale.md: the planner against XLA's compiled train step on 256 fake devices.

  python tools/scale_benchmark.py --out benchmarks/scale.md            # every row
  python tools/scale_benchmark.py --only 22b:16x16:256 --out /tmp/one.md
  python tools/scale_benchmark.py --tpu v5p:8x8x4 --out benchmarks/scale_tpu.md

Each row is one `tools/plan.py --compile` run in its own process (4DS-B, 22b and 4DS-e at
global batch 256 and 2048, without and with remat of the encoder blocks, float32
activations, 16 x 224 x 224 clips, mask 0.95, the standard decoder as `MaskedAutoencoder`
builds it for the mesh). Float32, because XLA's CPU compiler keeps the activations of a
mixed-bfloat16 step in float32 around its bfloat16 matmuls (measured: 4DS-B on 64x4 at
batch 256 needs 1.30 GiB of temp with mixed bfloat16 against 1.23 GiB in float32), so a
CPU compile cannot check a bfloat16 plan for an accelerator; in float32 it is what an
accelerator compiler would keep too.
The table gives the plan's and XLA's per-device total, their ratio, XLA's argument and temp
bytes and the compile time. Results are kept in `--cache` (JSON per row), so an
interrupted run continues where it stopped. With `--tpu TOPOLOGY` every row is compiled by
the TPU compiler for the 256 chips of that slice instead (`plan.py --tpu`, libtpu needed, no
TPU), and `--activations bfloat16` compiles the mixed-bfloat16 step, which only a TPU
compile can check.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GIB = 2 ** 30
ROWS = [f"{size}:{mesh}:{batch}" for size, meshes in (("b", ("64x4",)),
                                                      ("22b", ("32x8", "16x16")), ("e", ("32x8",)))
        for mesh in meshes for batch in (256, 2048)]


def run_row(row, remat, cache, tpu=None, activations="float32"):
    """plan.py --compile for `row` ('size:mesh:batch'); its JSON (cached)."""
    target = f"tpu_{tpu.replace(':', '_')}_" if tpu else ""
    path = os.path.join(cache, f"{target}{row.replace(':', '_')}_{activations}_"
                               f"{'remat' if remat else 'full'}.json")
    if not os.path.exists(path):
        size, mesh, batch = row.split(":")
        command = [sys.executable, os.path.join(HERE, "plan.py"), "--size", size, "--mesh", mesh,
                   "--batch", batch, "--activations", activations, "--compile", "--json", path] + (
                       ["--remat"] if remat else []) + (["--tpu", tpu] if tpu else [])
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        print(done.stdout.strip().splitlines()[0], flush=True)
    with open(path) as f:
        return json.load(f)


def planned_total(row, remat, activations, compiler):
    """The plan's per-device total for a row, from `memory_plan.plan` as it is now (so a
    corrected plan needs no recompiling), with the decoder heads the model builds."""
    sys.path.insert(0, os.path.join(HERE, ".."))
    from memory_plan import plan

    from keras4ds.distribution.layouts import fitting_heads

    size, mesh, batch = row.split(":")
    mesh = tuple(int(n) for n in mesh.split("x"))
    r = plan(size, mesh, int(batch), decoder_heads=fitting_heads(512, 8, mesh[1]),
             activation_bytes=2 if activations == "bfloat16" else 4, compiler=compiler)
    return r["total_remat" if remat else "total"]


def table(results, activations, compiler):
    lines = ["| size | mesh (batch x model) | global batch | remat | plan total | XLA total "
             "| XLA / plan | XLA argument | XLA temp | collectives | compile |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (row, remat), r in results.items():
        size, mesh, batch = row.split(":")
        xla = r["xla"]
        planned = planned_total(row, remat, activations, compiler)
        collectives = "; ".join(f"{op} " + ", ".join(f"{n} {axes}" for axes, n in by.items())
                                for op, by in sorted(xla["collectives"].items()))
        lines.append(f"| {size} | {mesh} | {batch} | {'yes' if remat else 'no'} "
                     f"| {planned / GIB:.2f} GiB | {xla['total'] / GIB:.2f} GiB "
                     f"| {xla['total'] / planned:.3f} | {xla['argument'] / GIB:.2f} GiB "
                     f"| {xla['temp'] / GIB:.2f} GiB | {collectives} | {xla['compile_seconds']:.0f} s |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="markdown file to write")
    parser.add_argument("--only", nargs="+", choices=ROWS, help="rows to run (default: all)")
    parser.add_argument("--cache", default="runs/scale_benchmark", help="JSON per row")
    parser.add_argument("--tpu", metavar="TOPOLOGY",
                        help="compile for this 256-chip TPU slice (e.g. v5p:8x8x4) instead")
    parser.add_argument("--activations", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args(argv)
    os.makedirs(args.cache, exist_ok=True)
    from tqdm import tqdm

    todo = [(row, remat) for row in (args.only or ROWS) for remat in (False, True)]
    results = {key: run_row(*key, args.cache, args.tpu, args.activations)
               for key in tqdm(todo, desc="compiling", unit="row")}
    sys.path.insert(0, os.path.join(HERE, ".."))
    from keras4ds.utils import write_text

    command = "python tools/scale_benchmark.py --out " + args.out + (
        " --only " + " ".join(args.only) if args.only else "") + (
        f" --tpu {args.tpu}" if args.tpu else "") + (
        f" --activations {args.activations}" if args.activations != "float32" else "")
    target = f"the TPU compiler for a {args.tpu} slice" if args.tpu else "256 fake CPU devices"
    write_text(args.out, f"# Planner against XLA: {target}, {args.activations} activations\n\n"
               + __doc__.split("\n\n", 2)[2] + f"\n\n```\n{command}\n```\n\n"
               + table(results, args.activations, "tpu" if args.tpu else "cpu") + "\n")


if __name__ == "__main__":
    main()
