"""Checks of command-line paths, made before any slow start."""
import os


def check_output_path(path, folder=False):
    """Raise OSError, naming `path`, unless a file (or `folder`) can be written there.

    It must not be a folder (a file, with `folder=True`), and its nearest existing
    parent must be a writable folder (the missing ones are created when written).
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and os.path.isdir(path) != folder:
        error, wanted, found = (
            (NotADirectoryError, "folder", "file") if folder else (IsADirectoryError, "file", "folder")
        )
        raise error(f"output {path} is a {found}, not a {wanted}")
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise NotADirectoryError(f"cannot write {path}: {parent} is a file, not a folder")
    for target in (parent, path) if folder and os.path.isdir(path) else (parent,):
        if not os.access(target, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write {path}: folder {target} is not writable")


def check_input_path(path):
    """Raise FileNotFoundError, naming `path`, if nothing is there (before a slow start)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"input {path} does not exist")
