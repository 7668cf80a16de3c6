"""keras4ds.utils: staged writes never leave a half-written file."""
import json
import os

import pytest

from keras4ds.utils import remove_staged_leftovers, staged_path, write_json, write_staged, write_text


@pytest.mark.backend_independent
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "result.json"
    write_json(str(path), {"a": 1})

    def fail(staged):
        with open(staged, "w") as f:
            f.write('{"a": ')
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed"):
        write_staged(str(path), fail)
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["result.json"]


@pytest.mark.backend_independent
def test_writers_create_folders_keep_the_extension_and_write_the_content(tmp_path):
    path = tmp_path / "new" / "report.md"
    seen = []
    write_staged(str(path), lambda staged: (seen.append(staged), write_text(staged, "x")))
    assert seen[0].endswith(".md") and seen[0] == staged_path(str(path))
    write_text(str(path), "# report\n")
    assert path.read_text() == "# report\n"
    write_json(str(tmp_path / "n.json"), {"x": 1.5}, indent=None)
    assert (tmp_path / "n.json").read_text() == '{"x": 1.5}\n'


@pytest.mark.backend_independent
def test_leftovers_of_a_killed_write_are_removed(tmp_path):
    (tmp_path / "a.tmp-123.json").write_text("half")
    (tmp_path / "keep.json").write_text("{}")
    removed = remove_staged_leftovers(str(tmp_path))
    assert [os.path.basename(p) for p in removed] == ["a.tmp-123.json"]
    assert os.listdir(tmp_path) == ["keep.json"]
