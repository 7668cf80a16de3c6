"""Writes that never leave a half-written file: a temp name beside the target, then a rename."""
import glob
import json
import os

STAGED_MARK = ".tmp-"


def staged_path(path: str) -> str:
    """The temp name `write_staged` uses for `path`: `ROOT.tmp-PID.EXT` beside it."""
    root, ext = os.path.splitext(path)
    return f"{root}{STAGED_MARK}{os.getpid()}{ext}"


def write_staged(path: str, write) -> str:
    """Call `write(staged)` on a temp name beside `path` (same extension, so writers that add
    one keep it), then rename it to `path`. If `write` fails, or the process dies, `path` is
    untouched; a failed write's temp file is removed. Returns `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    staged = staged_path(path)
    try:
        write(staged)
        os.replace(staged, path)
    except BaseException:
        if os.path.exists(staged):
            os.remove(staged)
        raise
    return path


def remove_staged_leftovers(folder: str) -> list[str]:
    """Delete the temp files a killed `write_staged` left in `folder`; returns their paths."""
    leftovers = sorted(glob.glob(os.path.join(glob.escape(folder), f"*{STAGED_MARK}[0-9]*")))
    for path in leftovers:
        os.remove(path)
    return leftovers


def write_text(path: str, text: str) -> str:
    """Write `text` to `path` through `write_staged`; returns `path`."""
    def write(staged):
        with open(staged, "w") as f:
            f.write(text)
    return write_staged(path, write)


def write_json(path: str, data, indent: int = 2, **dump_options) -> str:
    """Write `data` as JSON to `path` through `write_staged` (`json.dump` options pass on)."""
    return write_text(path, json.dumps(data, indent=indent, **dump_options) + "\n")
