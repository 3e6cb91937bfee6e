"""Request Tracker 5 on SQLite with REST2, on 127.0.0.1:8085.

Its pitfalls are in docs/lab.md. Everything lives under `self.dir`: RT
runs from our own RT_SiteConfig.pm (never /etc), mail goes to files in `rt-mail/`
(never the system MTA), and a reset copies back the golden database taken right
after seeding. Passwords reach the Perl seed through its environment and the REST2
token comes back on its stdout into a 0600 file: no secret is ever in argv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from adminkit.core.errors import LabError
from adminkit.lab import base, process
from adminkit.lab.base import LabServer

if TYPE_CHECKING:
    import httpx

HOST = "127.0.0.1"
PORT = 8085
QUEUE = "Helpdesk"
TECH_USER = "tech1"
RT_SHARE = Path("/usr/share/request-tracker5")
RT_SERVER = RT_SHARE / "libexec" / "rt-server"
RT_SETUP_DATABASE = Path("/usr/sbin/rt-setup-database-5")
TOKEN_RE = re.compile(r"^\d+-\d+-[0-9a-f]+\Z")

# tech1's rights on the queue: what adminkit's ticket backend needs, nothing more.
TECH_RIGHTS = (
    "SeeQueue ShowTicket CreateTicket ModifyTicket ReplyToTicket CommentOnTicket "
    "ShowTicketComments OwnTicket TakeTicket StealTicket SeeCustomField ModifyCustomField"
)

# The seed reads both passwords from its environment and prints only the token.
SEED_PL = f"""\
use strict; use warnings; use lib '{RT_SHARE}/lib';
use RT -init;
my $su = RT->SystemUser;
sub ok {{ my ($ok, $msg) = @_; die "$msg\\n" unless $ok; $ok }}
my $root = RT::User->new($su); $root->Load('root');
ok $root->SetPassword($ENV{{RT_ROOT_PASSWORD}});
my $q = RT::Queue->new($su);
ok $q->Create(Name => '{QUEUE}');
my $tech = RT::User->new($su);
ok $tech->Create(Name => '{TECH_USER}', EmailAddress => '{TECH_USER}@example.test',
                 Privileged => 1, Password => $ENV{{RT_TECH_PASSWORD}});
ok $tech->PrincipalObj->GrantRight(Object => $q, Right => $_) for qw({TECH_RIGHTS});
my $cf = RT::CustomField->new($su);
ok $cf->Create(Name => 'adminkit-run', Type => 'FreeformSingle',
               LookupType => 'RT::Queue-RT::Ticket');
ok $cf->AddToObject($q);
# These build a mail for every comment even with nobody to send it to: 2.5x slower notes.
for ('On Comment Notify AdminCcs as Comment', 'On Comment Notify Other Recipients as Comment') {{
    my $s = RT::Scrip->new($su); $s->LoadByCols(Description => $_);
    die "scrip not found: $_\\n" unless $s->Id;
    ok $s->SetDisabled(1);
}}
my (undef, $msg, $auth) = RT::AuthToken->new(RT::CurrentUser->new($root))
    ->Create(Owner => $tech->Id, Description => 'adminkit lab');
die "$msg\\n" unless $auth;
print "$auth\\n";
"""


def _perl_str(value: str | Path) -> str:
    """A single-quoted Perl string literal (paths under $LAB may hold anything)."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


class RequestTracker(LabServer):
    """RT 5 served by Starlet (rt-server); tests reach it with a REST2 token for tech1."""

    name: ClassVar[str] = "rt"
    apt_packages: ClassVar[tuple[str, ...]] = ("request-tracker5", "rt5-db-sqlite", "dma")
    debconf: ClassVar[tuple[str, ...]] = (
        "request-tracker5 request-tracker5/dbconfig-install boolean false",
        "request-tracker5 request-tracker5/install-cronjobs boolean false",
    )
    python_needs: ClassVar[dict[str, str]] = {"httpx": "httpx"}
    # 2.5 s idle, 9 s loaded in the recipe; other servers starting at once make it worse.
    ready_timeout: ClassVar[float] = 120.0

    url: ClassVar[str] = f"http://{HOST}:{PORT}/REST/2.0"

    # -- paths (absolute: a relative RT_SITE_CONFIG silently drops RT into installer mode)
    @property
    def root(self) -> Path:
        return self.dir.absolute()

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def site_config(self) -> Path:
        return self.etc / "RT_SiteConfig.pm"

    @property
    def site_config_dir(self) -> Path:
        return self.etc / "RT_SiteConfig.d"

    @property
    def database(self) -> Path:
        return self.root / "rt.sqlite"

    @property
    def golden(self) -> Path:
        return self.root / "golden.sqlite"

    @property
    def mail_dir(self) -> Path:
        return self.root / "rt-mail"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def token_file(self) -> Path:
        return self.secrets_dir / "tech1-token"

    @property
    def root_password_file(self) -> Path:
        return self.secrets_dir / "root-password"

    @property
    def tech_password_file(self) -> Path:
        return self.secrets_dir / "tech1-password"

    @property
    def seed_script(self) -> Path:
        return self.root / "seed.pl"

    @property
    def setup_log(self) -> Path:
        return self.root / "setup.log"

    # -- lifecycle ----------------------------------------------------------------
    def is_set_up(self) -> bool:
        return self.golden.exists() and self.token_file.exists()

    def setup(self) -> None:
        """Write the config, create and seed the database, keep a golden copy of it."""
        if self.is_set_up():
            return
        for path in (self.root, self.secrets_dir):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)  # the database holds password hashes
        self.site_config_dir.mkdir(parents=True, exist_ok=True)
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        # A half-done earlier setup leaves a database that `init` would refuse.
        for leftover in (self.database, self.token_file):
            leftover.unlink(missing_ok=True)
        self._write_site_config()
        self.seed_script.write_text(SEED_PL)

        log = self.setup_log
        log.write_bytes(b"")
        self._run(
            [str(RT_SETUP_DATABASE), "--action", "init"],
            env=self._rt_env(),
            log=log,
            what="rt-setup-database-5 --action init",
        )

        env = {
            **self._rt_env(),
            "RT_ROOT_PASSWORD": base.read_or_create_secret(self.root_password_file),
            "RT_TECH_PASSWORD": base.read_or_create_secret(self.tech_password_file),
        }
        tmp_token = self.token_file.with_suffix(".tmp")
        tmp_token.unlink(missing_ok=True)
        fd = os.open(tmp_token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            self._run(
                ["perl", str(self.seed_script)],
                env=env,
                log=log,
                stdout=fd,
                what="the RT seed (seed.pl)",
            )
        finally:
            os.close(fd)
        if not TOKEN_RE.match(tmp_token.read_text().strip()):
            raise LabError(
                "the RT seed did not print a REST2 token",
                hint=f"read {log} (the token file was left out)",
            )
        tmp_golden = self.golden.with_suffix(".tmp")
        shutil.copyfile(self.database, tmp_golden)
        tmp_token.replace(self.token_file)
        tmp_golden.replace(self.golden)  # last: its presence means set up

    def start(self) -> None:
        base.require_port(HOST, PORT, self.name)
        proc, _ = process.spawn(
            [
                str(RT_SERVER),
                "--host",
                HOST,
                "--port",
                str(PORT),
                "--max-workers",
                "2",
                "--max-keepalive-reqs",
                "100",
                "--max-reqs-per-child",
                "100000",
            ],
            log=self.log_file,
            env=self._rt_env(),
            cwd=self.root,
        )
        self.record([proc])

    # `stop()` is inherited: SIGTERM to the process group takes the Starlet master and
    # its workers. Never SIGINT: rt-server's INT handler chowns /var/lib/request-tracker5.

    def probe(self) -> None:
        """GET the Helpdesk queue with tech1's token: what the ticket backend does first."""
        import httpx

        try:
            r = httpx.get(f"{self.url}/queue/{QUEUE}", headers=self._auth(), timeout=15)
        except httpx.HTTPError as exc:
            raise LabError(f"rt: GET /queue/{QUEUE} failed: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise LabError(f"rt: GET /queue/{QUEUE} answered {r.status_code}")
        try:
            name = r.json().get("Name")
        except ValueError:
            name = None
        if name != QUEUE:
            raise LabError(f"rt: GET /queue/{QUEUE} did not return the queue")

    def reset(self) -> None:
        """Copy the golden database back (RT caches nothing we rely on across a restart)."""
        was_running = bool(self.procs.load(self.name))
        self.stop()
        for extra in ("-journal", "-wal", "-shm"):
            Path(f"{self.database}{extra}").unlink(missing_ok=True)
        tmp = self.database.with_suffix(".tmp")
        shutil.copyfile(self.golden, tmp)
        tmp.replace(self.database)
        if was_running:
            self.start()
            self.wait_ready()

    def profile(self) -> dict[str, Any]:
        return {
            "tickets": {
                "kind": "rt",
                "url": self.url,
                "token": f"file:{self.token_file}",
                "queue": QUEUE,
            }
        }

    # -- helpers for tests ----------------------------------------------------------
    def client(self) -> httpx.Client:
        """A REST2 client as tech1; tests close it (or use it in a `with`)."""
        import httpx

        return httpx.Client(base_url=self.url, headers=self._auth(), timeout=30)

    def new_ticket(self, subject: str, requestor: str = "jdoe@example.test", **fields: Any) -> int:
        """Create a ticket in Helpdesk: far cheaper than a reset for per-test isolation."""
        body = {"Queue": QUEUE, "Subject": subject, "Requestor": requestor, **fields}
        with self.client() as rt:
            r = rt.post("/ticket", json=body)
        if r.status_code != 201:
            raise LabError(f"rt: creating a ticket answered {r.status_code}: {r.text[:200]}")
        return int(r.json()["id"])

    # -- internals ----------------------------------------------------------------
    def _auth(self) -> dict[str, str]:
        try:
            token = self.token_file.read_text().strip()
        except OSError:
            raise LabError("rt: no REST2 token yet", hint="run `adminkit lab up rt`") from None
        return {"Authorization": f"token {token}"}

    def _rt_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RT_SITE_CONFIG": str(self.site_config),
            "RT_SITE_CONFIG_DIR": str(self.site_config_dir),
        }

    def _write_site_config(self) -> None:
        # BcryptCost must be 4 before seeding: RT only ever re-hashes upwards.
        self.site_config.write_text(f"""\
Set($rtname, 'adminkit-lab');
Set($CorrespondAddress, 'helpdesk@example.test');
Set($Timezone, 'UTC');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, {_perl_str(self.database)});
Set($WebDomain, '{HOST}');
Set($WebPort, {PORT});
Set($WebPath, '');
Set($LogToSyslog, undef);
Set($LogToSTDERR, 'warning');
Set($BcryptCost, 4);
Set(%FullTextSearch, Enable => 1, Indexed => 0);
Set($MailCommand, sub {{
    my $entity = shift;
    require File::Temp;
    my $fh = File::Temp->new(DIR => {_perl_str(self.mail_dir)}, SUFFIX => '.eml', UNLINK => 0);
    $entity->print($fh); close $fh; return 1;
}});
1;
""")

    def _run(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        log: Path,
        what: str,
        stdout: int | None = None,
    ) -> None:
        started = time.monotonic()
        with open(log, "ab") as out:
            out.write(f"$ {' '.join(argv)}\n".encode())
            out.flush()
            result = subprocess.run(
                argv,
                env=env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else out,
                stderr=out,
                check=False,
            )
            out.write(f"# exit {result.returncode} in {time.monotonic() - started:.1f}s\n".encode())
        if result.returncode != 0:
            raise LabError(f"rt: {what} failed (exit {result.returncode})", hint=f"read {log}")
