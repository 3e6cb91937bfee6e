"""A private cupsd on 127.0.0.1:6310 with two text-only queues; all of its state under `$LAB/cups`.

Layout of `self.dir`: `cupsd.conf`, `cups-files.conf`, `etc/` (ServerRoot: printers.conf,
ppd/), `spool/` (RequestRoot, with `spool/tmp` as TempDir), `cache/`, `run/` (StateDir),
`log/` (access and page log; the error log goes to stderr, i.e. `server.log`, so that a
failed start shows its reason), and `golden/`, the state right after seeding.

Why the paths read `/proc/self/cwd/...`
---------------------------------------
cupsd runs as root, but it starts its filters as user `lp`, and the first filter opens
the spooled document by the path it gets in argv (`RequestRoot/d00001-001`), the PPD by
`$PPD` (`ServerRoot/ppd/QUEUE.ppd`) and temporary files in `$TMPDIR`. The default lab
dir is under /root (0700) and pytest's temporary folders are 0700 too, so `lp` cannot
walk those paths: the job still ends "completed", with "Unable to open input text
file" and nothing printed. `User root` is refused by cupsd, and opening up /root (chmod,
ACLs) is not ours to do.

Instead cupsd is started with its working directory set to `$LAB/cups` (`cupsd -f` does
not chdir, and every filter inherits it through `cups-exec`), and every directory a
filter is told about is named `/proc/self/cwd/<dir>`. The kernel lets any process
follow its own `/proc/self/cwd`, whatever the permissions of the directory's
ancestors, so `lp` reaches exactly the spool, the PPDs and the temp dir it needs, and
nothing else of /root. Files stay where they belong, under the lab dir, wherever that
is. The consequence: `cupsd` (and `cupsd -t`) must run with `cwd=self.dir`; `start`
and `setup` do so.

Reset
-----
Queues, jobs and history survive a cupsd restart, and deleting jobs one by one is slow,
so `setup` seeds the two queues once with a temporary cupsd, stops it, and copies its
state (`etc`, `spool`, `cache`, `run`) to `golden/`. `reset` kills cupsd (its state is
thrown away anyway, and a SIGTERM with thousands of jobs takes seconds while cupsd
writes them out), restores the copy and starts it again: two empty, enabled,
accepting queues and job ids from 1 again, in about a tenth of a second.

Authentication
--------------
The `secured` policy lets only Unix user `aklabop` (PAM, Basic auth) act on a queue
that carries it. `setup` creates that user when run as root (`useradd` without a
password, then `chpasswd` reading `aklabop:PASSWORD` on stdin, so the password never
appears in argv) and keeps the password in `$LAB/cups/aklabop.secret` (0600). The user
is machine-wide, so `start` sets the password again from this lab's secret: of two labs
on one machine, the one started last owns it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from adminkit.core.errors import LabError
from adminkit.lab import base, process
from adminkit.lab.base import LabServer

QUEUES: tuple[str, ...] = ("front-desk", "back-office")
MODEL = "drv:///cupsfilters.drv/textonly.ppd"
DEVICE = "file:///dev/null"
OPERATOR = "aklabop"
# The directories a filter is told about; they are what `golden/` holds.
STATE_DIRS: tuple[str, ...] = ("etc", "spool", "cache", "run")
# Bump when the configuration or the seeded state changes, so `setup` seeds again.
LAYOUT = "cups-lab 1"
# What a process started with cwd=self.dir sees as self.dir, whoever it runs as.
CWD = "/proc/self/cwd"

CUPSD_CONF = """\
# Written by adminkit's lab; rewritten by `adminkit lab` setup.
LogLevel warn
Listen {host}:{port}
Browsing No
WebInterface No
MaxJobs 0
DefaultPolicy lab
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy lab>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
<Policy secured>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    AuthType Basic
    Require user {operator}
    Order deny,allow
  </Limit>
</Policy>
"""

CUPS_FILES_CONF = """\
# Written by adminkit's lab. Paths under {cwd} resolve, in cupsd and in every filter it
# starts as lp, to cupsd's working directory: {dir}
ServerRoot {cwd}/etc
RequestRoot {cwd}/spool
TempDir {cwd}/spool/tmp
CacheDir {cwd}/cache
StateDir {cwd}/run
ServerKeychain {cwd}/etc/ssl
CreateSelfSignedCerts no
ErrorLog stderr
AccessLog {dir}/log/access_log
PageLog {dir}/log/page_log
Printcap {dir}/run/printcap
FileDevice Yes
"""


class CupsServer(LabServer):
    name = "cups"
    apt_packages = ("cups", "cups-daemon", "cups-client", "cups-filters", "libcups2-dev", "gcc")
    python_needs: ClassVar[dict[str, str]] = {"cups": "pycups>=2.0.4"}
    ready_timeout = 20.0

    host: ClassVar[str] = "127.0.0.1"
    port: ClassVar[int] = 6310
    # The Unix user of the `secured` policy; None: do not create one (a second lab).
    operator: ClassVar[str | None] = OPERATOR

    # -- paths ----------------------------------------------------------------------
    @property
    def conf_file(self) -> Path:
        return self.dir / "cupsd.conf"

    @property
    def files_conf(self) -> Path:
        return self.dir / "cups-files.conf"

    @property
    def golden(self) -> Path:
        return self.dir / "golden"

    @property
    def operator_secret(self) -> Path:
        return self.dir / f"{self.operator or OPERATOR}.secret"

    def _argv(self, *flags: str) -> list[str]:
        cupsd = shutil.which("cupsd") or "/usr/sbin/cupsd"
        return [cupsd, *flags, "-c", str(self.conf_file), "-s", str(self.files_conf)]

    # -- lifecycle ------------------------------------------------------------------
    def is_set_up(self) -> bool:
        marker = self.golden / ".layout"
        return marker.is_file() and marker.read_text() == LAYOUT

    def setup(self) -> None:
        """Write the config, check it, create the operator, seed the queues, take the copy."""
        self._write_config()
        self._check_config()
        self._ensure_operator()
        if self.is_set_up():
            return
        self._seed()

    def start(self) -> None:
        base.require_port(self.host, self.port, self.name)
        # The operator is machine-wide and another lab may have set its password since:
        # this lab's secret file wins while this lab runs (chpasswd: ~40 ms).
        self._ensure_operator()
        self._spawn()

    def probe(self) -> None:
        import cups

        try:
            cups.Connection(host=self.host, port=self.port).getPrinters()
        except (RuntimeError, cups.IPPError) as exc:  # RuntimeError: cannot connect
            raise LabError(f"cups: IPP CUPS-Get-Printers on {self.host}:{self.port} failed: "
                           f"{exc}") from exc

    def reset(self) -> None:
        """Restore the golden copy: exactly the two queues, no jobs, no history, ids from 1."""
        if not self.is_set_up():
            raise LabError("cups: not set up, nothing to reset to",
                           hint="run `adminkit lab up cups` first")
        was_running = self.is_running()
        if was_running:
            self._kill()
        self._restore()
        if was_running:
            self._spawn()
            self.wait_ready()

    def profile(self) -> dict[str, Any]:
        return {"print_servers": [
            {"name": "lab-cups", "kind": "cups", "host": self.host, "port": self.port},
        ]}

    # -- for tests --------------------------------------------------------------------
    def connection(self) -> Any:
        """A pycups Connection to this server, made the calling thread's default.

        libcups submits print jobs to the thread's default server, not the Connection's
        (printFile then fails 1030 for an existing queue), so set both.
        """
        import cups

        cups.setServer(self.host)
        cups.setPort(self.port)
        return cups.Connection(host=self.host, port=self.port)

    def operator_password(self) -> str:
        """The password of the `secured` policy's user (created by `setup` as root)."""
        if not self.operator_secret.exists():
            raise LabError(f"cups: no password for {self.operator or OPERATOR} in this lab",
                           hint="`setup` creates it when run as root")
        return self.operator_secret.read_text()

    # -- internals --------------------------------------------------------------------
    def _write_config(self) -> None:
        self._make_dirs()
        self.conf_file.write_text(CUPSD_CONF.format(
            host=self.host, port=self.port, operator=self.operator or OPERATOR))
        self.files_conf.write_text(CUPS_FILES_CONF.format(cwd=CWD, dir=self.dir))

    def _spawn(self) -> None:
        base.require_port(self.host, self.port, self.name)
        self._make_dirs()
        # cwd=self.dir is what makes /proc/self/cwd/... in cups-files.conf work.
        proc, _ = process.spawn(self._argv("-f"), log=self.log_file, cwd=self.dir)
        self.record([proc])

    def _make_dirs(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # lp walks in through /proc/self/cwd: it needs x here
        for sub in ("log", *STATE_DIRS, "spool/tmp"):
            (self.dir / sub).mkdir(exist_ok=True)

    def _check_config(self) -> None:
        result = subprocess.run(self._argv("-t"), cwd=self.dir, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise LabError(f"cups: cupsd -t rejected {self.conf_file}",
                           hint=(result.stdout + result.stderr).strip())

    def _ensure_operator(self) -> None:
        """Create the `secured` policy's Unix user, idempotently; password via stdin only."""
        if self.operator is None or os.geteuid() != 0:
            return
        try:
            pwd.getpwnam(self.operator)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", "--comment", "adminkit lab print operator",
                 self.operator],
                check=True, capture_output=True,
            )
        password = base.read_or_create_secret(self.operator_secret)
        result = subprocess.run(["chpasswd"], input=f"{self.operator}:{password}\n",
                                text=True, capture_output=True, check=False)
        if result.returncode != 0:
            raise LabError(f"cups: could not set the password of {self.operator}",
                           hint=result.stderr.strip())

    def _seed(self) -> None:
        """Run cupsd once to create the queues, stop it so it saves them, copy the state."""
        for sub in STATE_DIRS:
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        self._spawn()
        try:
            self.wait_ready()
            import cups

            conn = cups.Connection(host=self.host, port=self.port)
            for queue in QUEUES:
                conn.addPrinter(queue, ppdname=MODEL, device=DEVICE, info=queue)
                conn.enablePrinter(queue)  # new queues are stopped and rejecting
                conn.acceptJobs(queue)
        finally:
            self.stop()  # SIGTERM: cupsd writes printers.conf on the way out
        printers = (self.dir / "etc" / "printers.conf").read_text()
        missing = [q for q in QUEUES if f"<Printer {q}>" not in printers]
        if missing:
            raise LabError(f"cups: seeding left no queue {', '.join(missing)}",
                           hint=f"see {self.log_file}")
        shutil.rmtree(self.golden, ignore_errors=True)
        self.golden.mkdir(mode=0o700)
        for sub in STATE_DIRS:
            _copy_tree(self.dir / sub, self.golden / sub)
        (self.golden / ".layout").write_text(LAYOUT)

    def _restore(self) -> None:
        for sub in STATE_DIRS:
            shutil.rmtree(self.dir / sub, ignore_errors=True)
            _copy_tree(self.golden / sub, self.dir / sub)

    def _kill(self) -> None:
        """SIGKILL cupsd and the filters it started: their state is about to be replaced.

        Filters run in process groups of their own, so signalling cupsd's group misses
        them; they are cupsd's children, found through /proc before cupsd goes.
        """
        procs = self.procs.load(self.name)
        children = [c for p in procs if process.alive(p) for c in _children(p.pid)]
        for proc in procs:
            process.stop(proc, timeout=5.0, sig=signal.SIGKILL)
        for child in children:
            process.stop(child, timeout=5.0, sig=signal.SIGKILL)
        self.procs.clear(self.name)


def _children(pid: int) -> list[process.Proc]:
    try:
        pids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = (process.adopt(int(p), "cupsd-child") for p in pids)
    return [p for p in found if p is not None]


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy with modes and owners: cupsd's files are root:lp, the filters need the group."""
    shutil.copytree(src, dst, symlinks=True)
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        for name in [".", *dirs, *files]:
            st = (Path(root) / name).lstat()
            target = dst / rel / name
            os.lchown(target, st.st_uid, st.st_gid)
            if not stat.S_ISLNK(st.st_mode):  # chown may clear set-id bits: put them back
                target.chmod(stat.S_IMODE(st.st_mode))


def extra_instance(lab_dir: Path, number: int) -> CupsServer:
    """Another cupsd like the lab's, on 127.0.3.NUMBER:6310 with its state under
    `lab_dir/cups-NUMBER`, for benchmarks that need many print servers. It has no
    operator (the machine-wide user belongs to the lab's own instance) and is started
    and stopped by PID like every lab server."""
    return _instance(CupsServer, lab_dir, number, "cups")


S = TypeVar("S", bound=CupsServer)


def _instance(base_cls: type[S], lab_dir: Path, number: int, prefix: str) -> S:
    if not 1 <= number <= 254:
        raise LabError(f"{prefix}: no extra instance {number} (1..254)")
    cls = type(f"{base_cls.__name__}{number}", (base_cls,),
               {"name": f"{prefix}-{number}", "host": f"127.0.3.{number}", "operator": None})
    server: S = cls(lab_dir)
    return server


class CupsTlsServer(CupsServer):
    """A cupsd that takes IPP only over TLS (`Encryption Required`), its certificate for
    `localhost` and its address signed by a CA of its own (`tls/ca.pem`): the server a
    profile's `tls: true` and `ca_file` are tested against."""

    @property
    def ca_file(self) -> Path:
        return self.dir / "tls" / "ca.pem"

    def _write_config(self) -> None:
        from adminkit.lab.smtp import make_tls

        super()._write_config()
        conf = self.conf_file.read_text()
        self.conf_file.write_text(conf.replace(
            "Listen ", "ServerName localhost\nListen ", 1).replace(
            "<Location />\n", "<Location />\n  Encryption Required\n", 1))
        tls = self.ca_file.parent
        if not self.ca_file.is_file():
            make_tls(tls, (self.host,), ca_name=f"adminkit lab CUPS CA {self.host}")
        # cupsd (root) finds its certificate in ServerKeychain by ServerName for loopback
        # clients; kept out of etc/, which seeding and resets replace
        keys = self.dir / "keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        for src, dst in (("sink.pem", "localhost.crt"), ("sink.key", "localhost.key")):
            shutil.copyfile(tls / src, keys / dst)
        (keys / "localhost.key").chmod(0o600)
        files = self.files_conf.read_text()
        self.files_conf.write_text(files.replace(f"ServerKeychain {CWD}/etc/ssl",
                                                 f"ServerKeychain {keys}"))

    def probe(self) -> None:
        import cups

        try:
            self.connection().getPrinters()
        except (RuntimeError, cups.IPPError) as exc:
            raise LabError(f"cups: IPP over TLS on {self.host}:{self.port} failed: {exc}"
                           ) from exc

    def connection(self) -> Any:
        import cups

        cups.setServer(self.host)
        cups.setPort(self.port)
        return cups.Connection(host=self.host, port=self.port,
                               encryption=cups.HTTP_ENCRYPT_REQUIRED)

    def profile(self) -> dict[str, Any]:
        return {"print_servers": [
            {"name": f"lab-{self.name}", "kind": "cups", "host": self.host, "port": self.port,
             "tls": True, "ca_file": str(self.ca_file)},
        ]}


def tls_instance(lab_dir: Path, number: int) -> CupsTlsServer:
    """A cupsd like `extra_instance`, on 127.0.3.NUMBER:6310, that takes IPP over TLS only."""
    return _instance(CupsTlsServer, lab_dir, number, "cups-tls")
