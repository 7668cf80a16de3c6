"""`tools/probe_cost.py`: the features and train-step cost of the study's probes."""
import re

import pytest
from probe_cost import main

pytestmark = pytest.mark.backend_independent


def test_the_table_has_a_measured_row_per_task(tmp_path):
    out = tmp_path / "probe_cost.md"
    main(["--budget", "tiny", "--tasks", "depth", "pose", "--clips", "4", "--steps", "2",
          "--out", str(out)])
    text = out.read_text()
    assert "w32 (32 wide, 1 blocks)" in text
    for task in ("depth", "pose"):
        row = re.search(rf"^\| {task} \| (.*) \|$", text, re.M).group(1).split(" | ")
        features, frozen, tuned = (float(v) for v in row[:3])
        assert features > 0 and frozen > 0 and tuned > 0, row
        assert row[4] == "4"  # the tiny budget's probe steps


def test_too_few_clips_or_steps_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        main(["--clips", "1", "--out", str(tmp_path / "x.md")])
    assert not (tmp_path / "x.md").exists()
