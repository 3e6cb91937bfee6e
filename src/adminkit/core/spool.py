"""A bulk run's results on disk, not in memory: what the report reads back at the end.

A run of 20,000 rows would hold 20,000 `Result`s (with their changes and public
forms) until the report is printed. Here each result, once the hooks (the journal)
have it, becomes its scrubbed JSON line in an unnamed temporary file (0600, gone when
closed or when the process dies) and is let go of; the counts the report's status and
exit code need are kept as counters. The report reads the lines back in row order.
`Tally` alone keeps only the counts and the failures (a pre-flight, which reports
nothing else).
"""

from __future__ import annotations

import contextlib
import errno
import json
from array import array
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, overload

from adminkit.core import secrets
from adminkit.core.result import Result, Status

NOT_YET = -1  # a row with no result yet
IN_MEMORY = -2  # a row whose line the file could not take (a full TMPDIR)


class Tally(Sequence[Result]):
    """The counts of a run's results by status, the most severe failure's exit code, and
    the failed results themselves (by row); no other result is kept."""

    def __init__(self) -> None:
        self.by_status = dict.fromkeys(Status, 0)
        self.worst = 0  # exit code of the most severe failure so far (0: none)
        self.failures: dict[int, Result] = {}
        self._rows = 0

    def put(self, index: int, result: Result) -> None:
        """Count the result of row `index` (each row once)."""
        self.by_status[result.status] += 1
        if result.failed:
            self.worst = max(self.worst, result.exit_code or 1)
            self._keep_failure(index, result)
        self._rows = max(self._rows, index + 1)

    def _keep_failure(self, index: int, result: Result) -> None:
        self.failures[index] = result

    def append(self, result: Result) -> None:
        self.put(len(self), result)

    def __len__(self) -> int:
        return self._rows

    @overload
    def __getitem__(self, index: int) -> Result: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Result]: ...

    def __getitem__(self, index: int | slice) -> Result | Sequence[Result]:
        raise TypeError("a tally keeps only counts and failures: read `failures`")

    def __iter__(self) -> Iterator[Result]:
        raise TypeError("a tally keeps only counts and failures: read `failures`")

    def close(self) -> None:
        """Nothing held outside memory."""


class SpooledResults(Tally):
    """Every row's result as its public JSON line (`Result.public`), in a temporary file.

    `put` may come in any row order (units finish as they finish); reading goes by row.
    A result read back is rebuilt from its public form: secrets masked, as printed.
    """

    def __init__(self, rows: int) -> None:
        import tempfile

        super().__init__()
        # unbuffered: a write that fails (a full or tiny TMPDIR) fails for its own line,
        # which is then kept in memory with every later one; the run goes on
        self._file: BinaryIO | None = None
        with contextlib.suppress(OSError):
            self._file = tempfile.TemporaryFile("w+b", buffering=0)  # noqa: SIM115
        self._end = 0  # where the next line goes in the file
        self._at = array("q", [NOT_YET]) * rows
        self._size = array("l", [0]) * rows
        self._kept: dict[int, bytes] = {}  # the lines the file could not take, by row
        self._full = False  # a write failed: every later line is kept in memory
        self._generation = secrets.generation()  # the secrets its lines were scrubbed of

    def _keep_failure(self, index: int, result: Result) -> None:
        """On disk like the rest (a run whose every row failed holds none of them)."""

    def put(self, index: int, result: Result) -> None:
        super().put(index, result)
        data = result.public_line().encode("utf-8")
        while len(self._at) <= index:
            self._at.append(NOT_YET)
            self._size.append(0)
        self._at[index], self._size[index] = self._write(data), len(data)
        if self._at[index] == IN_MEMORY:
            self._kept[index] = data

    def _write(self, data: bytes) -> int:
        """Where `data` now is in the file, or IN_MEMORY if the file cannot take it."""
        if self._file is None or self._full:
            return IN_MEMORY
        at, view = self._end, memoryview(data)
        try:
            self._file.seek(at)
            while view:
                wrote = self._file.write(view)
                if not wrote:
                    raise OSError(errno.ENOSPC, "the spool file took nothing")
                view = view[wrote:]
        except OSError:  # the lines before stay readable where they are
            self._full = True
            return IN_MEMORY
        self._end += len(data)
        return at

    def _line(self, index: int) -> bytes:
        at = self._at[index]
        if at == NOT_YET:
            raise IndexError(f"row {index} has no result")
        if at == IN_MEMORY:
            return self._kept[index]
        assert self._file is not None
        self._file.seek(at)
        size, parts = self._size[index], []
        while size:
            part = self._file.read(size)
            if not part:
                raise OSError(errno.EIO, f"the spool file ends before row {index}")
            parts.append(part)
            size -= len(part)
        return b"".join(parts)

    def __len__(self) -> int:
        return len(self._at)

    def lines(self) -> Iterator[str]:
        """Each row's public JSON, in row order (the rows with no result left out),
        scrubbed again if a secret became known after it was written."""
        for _, line in self._numbered():
            yield line

    def items(self) -> Iterator[tuple[int, Result]]:
        """(row, result) of each row that has one, in row order."""
        for index, line in self._numbered():
            yield index, _rebuilt(json.loads(line))

    def _numbered(self) -> Iterator[tuple[int, str]]:
        stale = secrets.generation() != self._generation
        for index, at in enumerate(self._at):
            if at == NOT_YET:
                continue
            line = self._line(index).decode("utf-8")
            if stale:
                line = json.dumps(secrets.redact_obj(json.loads(line)), ensure_ascii=False,
                                  default=str)
            yield index, line

    def publics(self) -> Iterator[dict[str, Any]]:
        """`Result.public()` of each row, in row order."""
        for line in self.lines():
            yield json.loads(line)

    @overload
    def __getitem__(self, index: int) -> Result: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Result]: ...

    def __getitem__(self, index: int | slice) -> Result | Sequence[Result]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return _rebuilt(json.loads(self._line(index)))

    def __iter__(self) -> Iterator[Result]:
        for public in self.publics():
            yield _rebuilt(public)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._kept.clear()


def _rebuilt(public: dict[str, Any]) -> Result:
    return Result.model_validate(public)
