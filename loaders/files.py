"""Opening a dataset file: one check of what the path names and one rule for how its bytes become text, for
every file any loader reads.

What the path must name: a regular file the process may read. A missing file, a folder, a symbolic link
loop or a link to nothing, a FIFO, a socket or a device, and a file without read permission are each one
:class:`LoadError` naming the file, raised before anything is read (a FIFO would block the load forever).

How bytes become text (:func:`text_encoding`), the same for ratings, knowledge, attribute and metadata files:

- a byte-order mark says the encoding: UTF-8, UTF-16 or UTF-32 (either byte order); the mark itself is
  dropped, never read as part of an id;
- without a mark, the text is UTF-8; a file whose first :data:`SAMPLE_BYTES` are a quarter NUL bytes or
  more is not UTF-8 text (UTF-16 or UTF-32 without a mark, or binary) and is refused;
- ``.gz`` files are un-gzipped first, and the rule applies to what they hold.

Bytes that are not valid UTF-8 read as U+FFFD. A NUL character in a text file is refused where its line is
read, naming line and field (:mod:`loaders.reading`): no id or name holds one.

Example:
    >>> text_encoding(b"\\xef\\xbb\\xbfitem,brand"), text_encoding(b"\\xff\\xfei\\x00"), text_encoding(b"i1,A")
    ('utf-8-sig', 'utf-16', 'utf-8-sig')
    >>> text_encoding(b"i\\x001\\x00,\\x00")
    Traceback (most recent call last):
    ...
    core.errors.LoadError: a quarter or more of its first bytes are NUL: not UTF-8 text (UTF-16 or UTF-32 without a byte-order mark, or binary); save it as UTF-8
"""

from __future__ import annotations

import codecs
import errno
import gzip
import io
import os
import stat
import zlib
from pathlib import Path
from typing import IO, Any

from core.errors import LoadError

__all__ = ["DAMAGED", "SAMPLE_BYTES", "open_bytes", "open_text", "text_encoding"]

SAMPLE_BYTES = 1 << 16
"""How much of a file's start :func:`text_encoding` looks at."""

DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile)
"""What reading a damaged compressed file raises part-way through (a truncated ``.gz`` raises EOFError)."""

_GZIP_MAGIC = b"\x1f\x8b"
# UTF-32 first: its little-endian mark begins with UTF-16's.
_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def text_encoding(head: bytes, path: Path | None = None) -> str:
    """The codec that reads a file starting with ``head`` (see the module docstring); ``utf-8-sig`` reads
    UTF-8 with or without a mark. Text too full of NUL bytes to be UTF-8 is a :class:`LoadError` naming
    ``path``."""
    for mark, codec in _MARKS:
        if head.startswith(mark):
            return codec
    sample = head[:SAMPLE_BYTES]
    if sample.count(b"\x00") * 4 >= len(sample) > 0:
        raise LoadError(
            "a quarter or more of its first bytes are NUL: not UTF-8 text (UTF-16 or UTF-32 without a "
            "byte-order mark, or binary); save it as UTF-8",
            file=None if path is None else str(path),
        )
    return "utf-8-sig"


def open_bytes(path: Path) -> io.BufferedReader[Any]:
    """A checked regular file's bytes (un-gzipped for ``.gz``), buffered so that its start can be peeked."""
    raw = io.BufferedReader(io.FileIO(_checked_descriptor(path), "rb"), buffer_size=SAMPLE_BYTES)
    if path.suffix != ".gz":
        return raw
    if raw.peek(2)[:2] != _GZIP_MAGIC:
        raw.close()
        raise LoadError("named .gz but not gzip-compressed", file=str(path))
    return io.BufferedReader(_Gunzip(raw), buffer_size=SAMPLE_BYTES)


class _Gunzip(gzip.GzipFile):
    """A gzip reader that closes the file it reads (a ``GzipFile`` given a file object leaves it open)."""

    def __init__(self, raw: io.BufferedReader[Any]) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_text(path: Path) -> IO[str]:
    """A checked file as text decoded by :func:`text_encoding` (``newline=""``, as :mod:`csv` wants it)."""
    handle = open_bytes(path)
    try:
        codec = text_encoding(handle.peek(SAMPLE_BYTES)[:SAMPLE_BYTES], path)
    except DAMAGED as e:
        handle.close()
        raise LoadError(f"compressed data is truncated or corrupt ({e})", file=str(path), line=1) from e
    except BaseException:
        handle.close()
        raise
    return io.TextIOWrapper(handle, encoding=codec, errors="replace", newline="")


def _checked_descriptor(path: Path) -> int:
    """An open descriptor on ``path``, which must be a regular, readable file; else a one-line LoadError."""
    name = str(path)
    try:
        info = os.stat(path)
    except OSError as e:
        raise LoadError(_why(e, path), file=name) from e
    _require_regular(info.st_mode, name)
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO since the stat, opening it must not wait for a
        # writer; fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise LoadError(_why(e, path), file=name) from e
    try:
        _require_regular(os.fstat(fd).st_mode, name)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _require_regular(mode: int, name: str) -> None:
    if stat.S_ISDIR(mode):
        raise LoadError("is a folder; expected a file", file=name)
    if not stat.S_ISREG(mode):
        kind = next((what for test, what in _KINDS if test(mode)), "not a regular file")
        raise LoadError(f"is {kind}, not a regular file; give a file", file=name)


def _why(error: OSError, path: Path) -> str:
    if error.errno == errno.ENOENT:
        return "a symbolic link to nothing (its target is missing)" if path.is_symlink() else "file not found"
    if error.errno == errno.ELOOP:
        return "a symbolic link loop (the links never reach a file)"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read: permission denied"
    return f"cannot be opened: {error.strerror or error}"
