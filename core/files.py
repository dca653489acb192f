"""Folders written whole: a model is built in a sibling folder and renamed into place, so a reader finds
the old one or the new one, never half of either.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> target = Path(tempfile.mkdtemp()) / "model"
    >>> _ = replace_folder(target, lambda tmp: (tmp / "a.txt").write_text("1"), "the model")
    >>> _ = replace_folder(target, lambda tmp: (tmp / "b.txt").write_text("2"), "the model")
    >>> sorted(p.name for p in target.iterdir())
    ['b.txt']
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from core.errors import ModelError

__all__ = ["replace_folder"]


def replace_folder(target: str | Path, write: Callable[[Path], object], what: str) -> Path:
    """Build ``target`` with ``write(tmp)`` in a sibling temporary folder, then swap it in; an existing
    ``target`` is replaced only once the new one is complete. A failure leaves ``target`` as it was and is
    a :class:`ModelError` naming ``what`` was being saved."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        write(tmp)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"could not save {what} to {target}: {e}") from e
    return target
