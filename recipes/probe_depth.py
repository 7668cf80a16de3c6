"""Train and score a depth readout on a 4DS encoder (procedural scenes by default).

Example: python recipes/probe_depth.py --steps 300 --out out/probe_depth
Writes depth metrics JSON (probe vs trivial baseline), a loss curve and pictures; see
`keras4ds_apps.probe` and `--help`.
"""
from keras4ds_apps.probe import main

if __name__ == "__main__":
    main("depth")
