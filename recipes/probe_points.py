"""Train and score a points readout on a 4DS encoder (procedural scenes by default).

Example: python recipes/probe_points.py --steps 300 --out out/probe_points
Writes points metrics JSON (probe vs trivial baseline), a loss curve and pictures; see
`keras4ds_apps.probe` and `--help`.
"""
from keras4ds_apps.probe import main

if __name__ == "__main__":
    main("points")
