"""`tools/rescore_study.py`: a finished study's verdicts and report again from results.json."""
import json
import os
import shutil

import pytest
from rescore_study import main

pytestmark = pytest.mark.backend_independent

LONG = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "study_long")


def test_rescoring_a_stored_study_rewrites_its_verdicts_report_and_plots(tmp_path, capsys):
    shutil.copy(os.path.join(LONG, "results.json"), tmp_path / "results.json")
    results = json.loads((tmp_path / "results.json").read_text())
    results["summary"]["pose"]["metric"] = "stale"
    (tmp_path / "results.json").write_text(json.dumps(results))
    main([str(tmp_path)])
    rescored = json.loads((tmp_path / "results.json").read_text())
    assert rescored["summary"]["pose"]["metric"] == "ate"
    assert rescored["probes"] == results["probes"]  # nothing is retrained
    assert "## pose: absolute trajectory error" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "pose_scaling.png").stat().st_size > 0
    assert "pose     (ate)" in capsys.readouterr().out


def test_a_folder_without_results_is_an_error_naming_it(tmp_path):
    with pytest.raises(SystemExit, match="results.json does not exist"):
        main([str(tmp_path)])
