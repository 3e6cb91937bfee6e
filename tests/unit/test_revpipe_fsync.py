"""Hostile review of the delivery's sync on a thread pool (`_fsync_all`, `Delivery.many`):
each descriptor's own outcome when some fail among many, no cross-talk between units
delivering at once from several threads (as a run's workers do), and a file only for a
password that is delivered whole.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from adminkit.core import delivery as deliv
from adminkit.core.delivery import _fsync_all
from adminkit.core.secrets import Secret


def test_each_descriptor_gets_its_own_outcome_among_many(tmp_path: Path) -> None:
    """Regular files (fsync works), pipes (EINVAL) and closed numbers (EBADF), 60 of
    them interleaved: exactly the pipes and the closed ones fail, each with its error."""
    good, pipes, closed = [], [], []
    fds: list[int] = []
    for i in range(20):
        fd = os.open(tmp_path / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"x")
        good.append(fd)
        r, w = os.pipe()
        pipes.append(r)
        os.close(w)
        fds += [fd, r]
    spare = [os.open(tmp_path / f"c{i}", os.O_WRONLY | os.O_CREAT, 0o600) for i in range(20)]
    for fd in spare:
        os.close(fd)
    closed = spare  # numbers not open now (none reused: nothing opened since)
    fds += closed
    try:
        failed = _fsync_all(fds)
        assert set(failed) == set(pipes) | set(closed)
        import errno
        assert {failed[fd].errno for fd in pipes} == {errno.EINVAL}
        assert {failed[fd].errno for fd in closed} == {errno.EBADF}
    finally:
        for fd in good + pipes:
            os.close(fd)


def test_units_delivering_at_once_from_many_threads(tmp_path: Path) -> None:
    """8 units of 25 at once into one folder (one Delivery, as a run's workers share
    it): each file holds its own secret, each is marked as written by this run, and no
    staged temporary is left."""
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    d = deliv.delivery(f"file:{folder}/")
    d.check(bulk=True)
    outcomes: dict[int, list[str | Exception]] = {}

    def unit(n: int) -> None:
        outcomes[n] = d.many([(f"u{n}x{i}", Secret(f"pw-{n}-{i}-Z9")) for i in range(25)])

    threads = [threading.Thread(target=unit, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(8):
        assert all(isinstance(o, str) for o in outcomes[n]), outcomes[n]
        for i in range(25):
            path = folder / f"u{n}x{i}.password"
            assert path.read_text() == f"pw-{n}-{i}-Z9\n"
            assert str(path) in d.wrote
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"u{n}x{i}.password" for n in range(8) for i in range(25))


def test_withdraw_after_many_takes_back_only_that_file(tmp_path: Path) -> None:
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    d = deliv.delivery(f"file:{folder}/")
    d.check(bulk=True)
    out = d.many([("a", Secret("A-pw-1234")), ("b", Secret("B-pw-1234"))])
    assert all(isinstance(o, str) for o in out)
    assert "removed" in d.withdraw("a")
    assert not (folder / "a.password").exists()
    assert (folder / "b.password").read_text() == "B-pw-1234\n"
