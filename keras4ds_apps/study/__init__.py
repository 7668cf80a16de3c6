"""The miniature 4DS study: pretrain, probe, scale, report.

`main(argv)` is the command line (`keras4ds study`, `recipes/study.py`); `run_study(out_dir,
budget)` runs or resumes a study from Python; `BUDGETS` holds the preset budgets.
"""
from keras4ds_apps.study.budgets import BUDGETS, TASKS, Budget, EncoderSize
from keras4ds_apps.study.main import main


def run_study(out_dir, budget, budget_name="custom", data=None):
    """Run or resume a study in `out_dir`; see `keras4ds_apps.study.runner.run_study`."""
    from keras4ds_apps.study.runner import run_study as _run

    return _run(out_dir, budget, budget_name, data)


__all__ = ["BUDGETS", "TASKS", "Budget", "EncoderSize", "main", "run_study"]
