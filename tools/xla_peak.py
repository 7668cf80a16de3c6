"""What is live at the peak of a compiled XLA program, by the JAX operation that made it.

  XLA_FLAGS="--xla_dump_to=/tmp/dump --xla_dump_hlo_as_text" \
      python tools/plan.py --size 22b --mesh 32x8 --batch 2048 --remat --activations float32 --compile
  python tools/xla_peak.py /tmp/dump --top 20

Reads the "Stack trace breakdown for peak usage" that XLA writes into a compiled module's
`*-live-range.txt` (the largest such file of the folder: the train step) and sums the bytes
live at the peak per operation name, with layer numbers folded (`block_3` -> `block_k`), so
a buffer that every block keeps at once shows as one row with its count.
"""
import argparse
import glob
import os
import re

ENTRY = re.compile(r"[├└]── (?P<name>.*) \([0-9.]+%, total: (?P<total>[0-9 ]+) bytes, "
                   r"current: (?P<current>[0-9 ]+) bytes")
HEADER = "Stack trace breakdown for peak usage:"


def _breakdown(text):
    """The dump's text from the breakdown's header on (ValueError if it has none)."""
    start = text.find(HEADER)
    if start < 0:
        raise ValueError(f"no {HEADER!r} in this live-range dump")
    return text[start:]


def peak_entries(text):
    """`(operation name, bytes live at the peak)` of each top-level entry of the breakdown
    (its children's bytes are already in their parent's). ValueError if there is none."""
    entries = []  # (indent, name, bytes)
    for line in _breakdown(text).splitlines()[2:]:
        match = ENTRY.search(line)
        if match is None:
            break
        entries.append((match.start(), match["name"], int(match["current"].replace(" ", ""))))
    if not entries:
        raise ValueError(f"no entries under {HEADER!r}: not the live-range format this reads")
    top = min(indent for indent, _, _ in entries)
    return [(name, size) for indent, name, size in entries if indent == top]


def peak_bytes(text):
    """The peak the breakdown accounts for, in bytes."""
    return int(_breakdown(text)[len(HEADER):].splitlines()[0].replace(" ", "").rstrip("bytes"))


def folded(entries):
    """`{name with block_N as block_k: (bytes, count)}`, largest first."""
    rows = {}
    for name, size in entries:
        key = re.sub(r"block_\d+", "block_k", name)
        total, count = rows.get(key, (0, 0))
        rows[key] = (total + size, count + 1)
    return dict(sorted(rows.items(), key=lambda item: -item[1][0]))


def live_range_file(folder):
    """The largest `*-live-range.txt` of an XLA dump folder (FileNotFoundError if none)."""
    files = glob.glob(os.path.join(folder, "*after_optimizations-live-range.txt"))
    if not files:
        raise FileNotFoundError(f"no *after_optimizations-live-range.txt in {folder} (dump "
                                f"with XLA_FLAGS=--xla_dump_to={folder} --xla_dump_hlo_as_text)")
    return max(files, key=os.path.getsize)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", help="the --xla_dump_to folder")
    parser.add_argument("--top", type=int, default=20, help="rows to print")
    args = parser.parse_args(argv)
    try:
        path = live_range_file(args.dump)
        with open(path) as f:
            text = f.read()
        entries, peak = peak_entries(text), peak_bytes(text)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"xla_peak: {error}")
    print(f"{os.path.basename(path)}: peak {peak / 2 ** 30:.2f} GiB over {len(entries)} "
          f"operations")
    print(f"{'GiB':>8} {'count':>6}  operation")
    for name, (size, count) in list(folded(entries).items())[:args.top]:
        print(f"{size / 2 ** 30:8.2f} {count:6d}  {name}")
    return folded(entries)


if __name__ == "__main__":
    main()
