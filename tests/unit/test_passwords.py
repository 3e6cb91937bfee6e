"""Generated passwords and where they go."""

from __future__ import annotations

import io
import os
import string
from pathlib import Path

import pytest

from adminkit.accounts.passwords import SYMBOLS, generate
from adminkit.core import delivery as delivery_module
from adminkit.core import files as files_module
from adminkit.core.delivery import delivery, to_terminal
from adminkit.core.errors import ActionFailed, UsageError
from adminkit.core.secrets import Secret

ALLOWED = set(string.ascii_letters + string.digits + SYMBOLS)


@pytest.mark.parametrize("length", [12, 16, 24, 64])
def test_generated_password_has_every_class_and_the_length(length: int) -> None:
    for _ in range(50):  # many draws: every one must have all four classes
        secret = generate(length)
        assert isinstance(secret, Secret)
        value = secret.reveal()
        assert len(value) == length
        assert set(value) <= ALLOWED
        assert any(c in string.ascii_uppercase for c in value)
        assert any(c in string.ascii_lowercase for c in value)
        assert any(c in string.digits for c in value)
        assert any(c in SYMBOLS for c in value)


def test_generated_password_has_a_minimum_length() -> None:
    assert len(generate(4).reveal()) == 12


def test_generated_passwords_differ() -> None:
    assert len({generate().reveal() for _ in range(20)}) == 20


def test_to_file_writes_0600(tmp_path: Path) -> None:
    target = tmp_path / "pw.txt"
    secret = Secret("Fresh-Passw0rd!")
    how = delivery(f"file:{target}")("jdoe", secret)
    assert target.read_text() == "Fresh-Passw0rd!\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert how == f"written to {target} (mode 0600)"
    assert "Fresh-Passw0rd!" not in how


def test_to_file_replaces_an_existing_0644_file_never_reusing_it(tmp_path: Path) -> None:
    target = tmp_path / "pw.txt"
    target.write_text("an older, much longer content that must disappear\n")
    target.chmod(0o644)
    with target.open() as reader:  # someone holding the old file open gets nothing new
        delivery(f"file:{target}")("jdoe", Secret("Second-Passw0rd!"))
        assert reader.read() == "an older, much longer content that must disappear\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.read_text() == "Second-Passw0rd!\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pw.txt")]  # no temporary


def test_to_file_into_a_folder(tmp_path: Path) -> None:
    how = delivery(f"file:{tmp_path}")("jdoe", Secret("Folder-Passw0rd!"))
    written = tmp_path / "jdoe.password"
    assert written.read_text() == "Folder-Passw0rd!\n"
    assert written.stat().st_mode & 0o777 == 0o600
    assert str(written) in how


def test_delivery_specs(tmp_path: Path) -> None:
    assert delivery("terminal").send is to_terminal
    deliver = delivery(f"file:{tmp_path / 'x'}")
    deliver("jdoe", Secret("Spec-Passw0rd!"))
    assert (tmp_path / "x").read_text() == "Spec-Passw0rd!\n"


def test_delivery_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    delivery("file:~/pw")("jdoe", Secret("Home-Passw0rd!"))
    assert (tmp_path / "pw").read_text() == "Home-Passw0rd!\n"


@pytest.mark.parametrize("spec", ["bogus", "file:", "", "Terminal", "ftp://x"])
def test_bad_delivery_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError, match="choose terminal, file:PATH or mail") as info:
        delivery(spec)
    assert info.value.exit_code == 2


def test_to_terminal_needs_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    with pytest.raises(UsageError, match="no terminal"):
        to_terminal("jdoe", Secret("Never-Shown-0!"))


def test_to_terminal_shows_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(delivery_module.sys, "stderr", err)
    how = to_terminal("jdoe", Secret("Shown-Once-0!"))
    assert err.getvalue().count("Shown-Once-0!") == 1
    assert "jdoe" in err.getvalue()
    assert "Shown-Once-0!" not in how


def test_the_delivery_the_hint_suggests_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    with pytest.raises(UsageError) as info:
        to_terminal("jdoe", Secret("Never-Shown-0!"))
    assert info.value.hint is not None
    assert "--deliver mail" in info.value.hint
    from adminkit.core.config import Profile

    with_mail = Profile.model_validate({"name": "acme", "mail": {
        "host": "127.0.0.1", "sender": "a@example.test", "password_recipient": "l2@example.test"}})
    assert callable(delivery("mail", with_mail))
    with pytest.raises(UsageError, match="password_recipient"):
        delivery("mail", Profile.model_validate({"name": "acme"}))


def test_characters_are_picked_uniformly() -> None:
    """A byte modulo a pool of 7 would favour its first four characters; rejection does not."""
    from collections import Counter

    from adminkit.accounts.passwords import _pick

    counts = Counter(_pick("abcdefg", 70_000))
    assert set(counts) == set("abcdefg")
    assert all(9_400 < n < 10_600 for n in counts.values()), counts
    positions = Counter(generate(16).reveal()[0].isupper() for _ in range(2000))
    assert 0 < positions[True] < 2000  # the upper-case one is not always first


# -- hostile targets: each refused before anything is written, or made harmless ----------

def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    box = tmp_path / "box"
    box.mkdir(mode=0o700)
    (box / "jdoe.password").symlink_to(victim)
    delivery(f"file:{box}")("jdoe", Secret("Link-Passw0rd!"))
    assert victim.read_text() == "precious\n"
    assert victim.stat().st_mode & 0o777 == 0o644
    written = box / "jdoe.password"
    assert not written.is_symlink()
    assert written.read_text() == "Link-Passw0rd!\n"


def test_a_folder_others_can_write_is_refused_in_the_plan(tmp_path: Path) -> None:
    box = tmp_path / "shared"
    box.mkdir()
    box.chmod(0o777)
    with pytest.raises(UsageError, match="others may write there"):
        delivery(f"file:{box}").check("jdoe")


def test_a_sticky_shared_folder_takes_only_new_files(tmp_path: Path) -> None:
    box = tmp_path / "tmpdir"
    box.mkdir()
    box.chmod(0o1777)
    deliver = delivery(f"file:{box}")
    deliver.check("jdoe")  # new: allowed
    (box / "jdoe.password").write_text("planted by someone else\n")
    with pytest.raises(UsageError, match="already there"):
        deliver.check("jdoe")


def test_a_missing_folder_is_refused_in_the_plan(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot deliver into"):
        delivery(f"file:{tmp_path / 'nowhere' / 'pw.txt'}").check("jdoe")


def test_a_bulk_run_needs_a_folder_not_one_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs a folder"):
        delivery(f"file:{tmp_path / 'all.txt'}").check(bulk=True)
    delivery(f"file:{tmp_path}").check(bulk=True)


def test_a_login_cannot_climb_out_of_the_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot name a password file"):
        delivery(f"file:{tmp_path}").check("../etc/x")


def test_withdraw_removes_what_was_delivered(tmp_path: Path) -> None:
    deliver = delivery(f"file:{tmp_path}")
    deliver("jdoe", Secret("Taken-Back-0!"))
    assert "was removed" in deliver.withdraw("jdoe")
    assert not (tmp_path / "jdoe.password").exists()


def test_withdraw_leaves_a_file_another_process_wrote_since(tmp_path: Path) -> None:
    """A run takes back only its own file: one written there since (by a resume running
    at the same time, say) holds a password that may be set, and stays."""
    deliver = delivery(f"file:{tmp_path}")
    deliver("jdoe", Secret("Mine-Passw0rd!1"))
    other = delivery(f"file:{tmp_path}")
    other("jdoe", Secret("Theirs-Passw0rd!2"))
    assert "left as it is" in deliver.withdraw("jdoe")
    assert (tmp_path / "jdoe.password").read_text() == "Theirs-Passw0rd!2\n"


def _unit(count: int) -> list[tuple[str, Secret]]:
    return [(f"u{i}", Secret(f"pw-{i}-{'x' * 12}")) for i in range(count)]


def test_a_unit_of_files_is_written_0600_and_durable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file synced (all at once) before any is renamed into place, then the folder
    once: every file there, 0600, with its secret; no temporary file left; withdraw
    knows them."""
    box = tmp_path / "box"
    box.mkdir(mode=0o700)
    real = os.fsync
    synced: list[tuple[bool, list[str]]] = []  # (a folder?, the final names there then)

    def counting(fd: int) -> None:
        import stat as st

        synced.append((st.S_ISDIR(os.fstat(fd).st_mode),
                       sorted(p.name for p in box.glob("*.password"))))
        real(fd)

    monkeypatch.setattr(delivery_module.os, "fsync", counting)
    sink = delivery(f"file:{box}")
    out = sink.many(_unit(5))
    assert out == [f"written to {box / f'u{i}.password'} (mode 0600)" for i in range(5)]
    assert sorted(p.name for p in box.iterdir()) == [f"u{i}.password" for i in range(5)]
    for i in range(5):
        path = box / f"u{i}.password"
        assert path.read_text() == f"pw-{i}-{'x' * 12}\n"
        assert path.stat().st_mode & 0o777 == 0o600
    files = [names for folder, names in synced if not folder]
    assert files == [[]] * 5  # each file synced while no final name showed any
    assert [folder for folder, _ in synced].count(True) == 1  # then the renames, once
    assert sink.withdraw("u3") == f"{box / 'u3.password'} was removed"


def test_a_failed_sync_fails_its_rows_and_leaves_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not durable: that secret may not be set, and its file is not left named; the
    unit's other files are delivered."""
    import errno

    real = os.fsync
    box = tmp_path / "box"
    box.mkdir(mode=0o700)

    def failing(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").split("/")[-1].startswith(".u1.password"):
            raise OSError(errno.EIO, "I/O error")
        real(fd)

    monkeypatch.setattr(delivery_module.os, "fsync", failing)
    out = delivery(f"file:{box}").many(_unit(3))
    assert isinstance(out[1], ActionFailed) and isinstance(out[1].__cause__, OSError), out
    assert "u1.password" in str(out[1]) and "it was not set" in str(out[1])
    assert not isinstance(out[0], Exception) and not isinstance(out[2], Exception)
    assert sorted(p.name for p in box.iterdir()) == ["u0.password", "u2.password"]


def test_a_failed_folder_sync_fails_every_row_of_the_unit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The renames are not durable: none of the unit's secrets may be set."""
    import errno
    import stat as st

    real = os.fsync

    def failing(fd: int) -> None:
        if st.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "I/O error")
        real(fd)

    monkeypatch.setattr(delivery_module.os, "fsync", failing)
    box = tmp_path / "box"
    box.mkdir(mode=0o700)
    out = delivery(f"file:{box}").many(_unit(3))
    assert all(isinstance(o, ActionFailed) for o in out), out
    assert all("could not be written" in str(o) and "I/O error" in str(o)
               and "it was not set" in str(o) for o in out), out
    assert list(box.iterdir()) == []


def test_a_killed_runs_half_written_files_are_cleared_by_the_next_delivery(
        tmp_path: Path) -> None:
    """SIGKILL between writing a password's temporary file and renaming it leaves a
    hidden file with a password that was never set: the next delivery into the folder
    removes it. One that a live process is writing stays."""
    import signal
    import subprocess
    import sys

    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    child = subprocess.run([sys.executable, "-c", (
        "import os, signal, sys; from pathlib import Path; "
        "from adminkit.core.files import _stage_named; "
        f"_stage_named(Path({str(folder / 'jdoe.password')!r}), b'never-set\\n'); "
        "os.kill(os.getpid(), signal.SIGKILL)")], check=False)
    assert child.returncode == -signal.SIGKILL
    [left] = list(folder.iterdir())
    assert left.name.startswith(".jdoe.password") and left.read_bytes() == b"never-set\n"
    fd, writing = files_module._stage_named(folder / "live.password", b"in flight\n")
    try:
        delivery(f"file:{folder}/").check(bulk=True)
        assert not left.exists()
        assert Path(writing).exists()  # its writer (this process) is alive
    finally:
        files_module.discard_staged(fd, writing)
    assert list(folder.iterdir()) == []


def test_a_folder_is_swept_once_per_delivery_not_per_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk run checks its delivery for every row; a resume's folder holds thousands of
    files: one scan of it, not one per row."""
    scans: list[Path] = []
    monkeypatch.setattr(delivery_module, "sweep_staged", lambda folder: scans.append(folder))
    sink = delivery(f"file:{tmp_path}")
    for login in ("a", "b", "c"):
        sink.check(login)
    assert scans == [tmp_path]


def test_passwords_read_the_csprng_in_pools_and_no_byte_twice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each read of os.urandom gives the GIL up (a bulk import's worker may then wait for
    it): a thread's passwords come from a pool read once per some 40 of them; and the
    bytes handed out never overlap (a byte used for two choices would tie them
    together)."""
    from collections import Counter

    from adminkit.accounts import passwords

    reads: list[int] = []
    real = os.urandom

    def counted(size: int) -> bytes:
        reads.append(size)
        return real(size)

    monkeypatch.setattr(passwords.os, "urandom", counted)
    monkeypatch.setattr(passwords._LOCAL, "source", None, raising=False)
    made = {generate(16).reveal() for _ in range(100)}  # ~200 bytes each
    assert len(made) == 100 and all(len(p) == 16 for p in made)
    assert len(reads) == 3 and all(size >= passwords.POOL for size in reads)
    for length in (12, 40, 128):
        assert len(generate(length).reveal()) == length
    counter = iter(range(10**6))
    monkeypatch.setattr(passwords.os, "urandom",
                        lambda size: bytes(next(counter) % 256 for _ in range(size)))
    source = passwords._Source(10)
    taken = source.take(4) + source.take(6) + source.take(20)  # the third reads again
    assert list(taken) == list(range(30))
    monkeypatch.setattr(passwords.os, "urandom", real)
    counts = Counter(passwords._pick("abcdefg", 70_000, passwords._Source(16)))
    assert all(9_400 < n < 10_600 for n in counts.values()), counts


def test_a_forked_child_never_hands_out_its_parents_pool() -> None:
    """A pool read before a fork (a warm start's pre-forked process) is dropped in the
    child: parent and child would otherwise make the same passwords."""
    generate(16)  # this thread's pool is read, and has bytes left
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next password, to the parent
        try:
            os.write(write, generate(16).reveal().encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert len(child) == 16
    assert generate(16).reveal() != child


def test_threads_never_share_a_pool() -> None:
    import threading

    from adminkit.accounts import passwords

    pools: list[object] = []

    def make() -> None:
        generate(16)
        pools.append(passwords._LOCAL.source)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(p) for p in pools}) == 4
