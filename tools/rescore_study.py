"""Re-score a finished study from its `results.json`: the verdicts, `report.md` and the
scaling plots again, under this checkout's report rules (e.g. a changed primary metric).

  python tools/rescore_study.py benchmarks/study_long

Nothing is retrained: every metric a readout measured is already in `results.json`
(`probes[task][size][init]["metrics"]`). Files are written staged, then renamed.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def rescore(folder: str) -> dict:
    """Summarise `folder`/results.json again; rewrite it, report.md and the scaling PNGs."""
    from keras4ds.utils import write_text
    from keras4ds_apps.study import plots
    from keras4ds_apps.study.report import render_markdown, summarise
    from keras4ds_apps.study.store import StudyFolder, read_json, write_json

    path = os.path.join(folder, "results.json")
    if not os.path.isfile(path):
        raise SystemExit(f"{path} does not exist: give a folder a study wrote")
    results = summarise(read_json(path))
    plots.scaling_figures(StudyFolder(folder), results)
    write_json(path, results)
    write_text(os.path.join(folder, "report.md"), render_markdown(results))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a study's output folder (with results.json)")
    results = rescore(parser.parse_args(argv).folder)
    for task, s in results["summary"].items():
        print(f"{task:8s} ({s['metric']}): pretrained beats random at the largest size: "
              f"{s['pretrained_beats_random_at_largest']}, largest beats smallest: "
              f"{s['largest_beats_smallest']}, beats trivial: {s['largest_beats_trivial']}")


if __name__ == "__main__":
    main()
