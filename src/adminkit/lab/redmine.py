"""Redmine 5 (Debian's package) on SQLite under WEBrick, on 127.0.0.1:8087; no Apache.

Debian's Redmine picks its instance from `REDMINE_INSTANCE`; an instance's root is
`/var/lib/redmine/NAME`, which here is a symlink to `self.dir/instance`, so the
config, database, logs and files stay in the lab folder. Puma is not packaged, and
Bundler hides the installed WEBrick unless `Gemfile.local` names it (one line in
/usr/share/redmine, the package's own extension point). A reset copies back the
golden database taken right after seeding. The API keys are random, reach the seed
through its environment, and are kept in 0600 files: never in argv.

Pitfalls: a custom role has no workflow, so a `status_id` it sends is ignored with a
204; with the REST API off Redmine answers 403 with an empty body; a wrong key on a
public project is Anonymous (the lab project is private).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from adminkit.core.errors import LabError
from adminkit.lab import base, process
from adminkit.lab.base import LabServer

if TYPE_CHECKING:
    import httpx

HOST = "127.0.0.1"
PORT = 8087
INSTANCE = "adminkit-lab"
SHARE = Path("/usr/share/redmine")
INSTANCES = Path("/var/lib/redmine")
GEMFILE_LOCAL = SHARE / "Gemfile.local"
PROJECT = "helpdesk"
ROLE = "Adminkit notes"
BOT = "adminkit"
# The bot's role: what adminkit's backend needs, but not "Set notes as private"
# (tests grant it), nor any workflow (Redmine then ignores a status change).
BOT_PERMISSIONS = ("view_issues", "add_issues", "add_issue_notes", "edit_issues",
                   "view_private_notes")

# Run by `rails runner`; keys come from the environment, ids go to stdout.
SEED_RB = f"""\
Setting.rest_api_enabled = '1'
Setting.default_language = 'en'
Setting.mail_handler_api_enabled = '0'
admin = User.find_by_login('admin')
admin.update_columns(must_change_passwd: false)
admin.api_key
admin.api_token.update_columns(value: ENV.fetch('LAB_ADMIN_KEY'))
bot = User.find_by_login('{BOT}') || User.new
bot.login = '{BOT}'; bot.firstname = 'Adminkit'; bot.lastname = 'Bot'
bot.mail = 'adminkit@example.test'; bot.admin = false; bot.language = 'en'
bot.password = bot.password_confirmation = ENV.fetch('LAB_BOT_PASSWORD')
bot.status = User::STATUS_ACTIVE
bot.save!
bot.api_key
bot.api_token.update_columns(value: ENV.fetch('LAB_BOT_KEY'))
role = Role.find_by(name: '{ROLE}') || Role.new(name: '{ROLE}')
role.permissions = %i[{' '.join(BOT_PERMISSIONS)}]
role.issues_visibility = 'all'
role.save!
project = Project.find_by(identifier: '{PROJECT}') || Project.new
project.name = 'Helpdesk'; project.identifier = '{PROJECT}'; project.is_public = false
project.enabled_module_names = ['issue_tracking']
project.trackers = [Tracker.find_by_name('Support')]
project.save!
Member.where(project: project, user: bot).destroy_all
Member.create!(project: project, principal: bot, role_ids: [role.id])
issue = Issue.find_by(subject: 'Printer jammed') || Issue.new
issue.project = project; issue.tracker = Tracker.find_by_name('Support')
issue.author = admin; issue.subject = 'Printer jammed'
issue.description = 'The printer on floor 2 is jammed.'
issue.save!
issue = Issue.find(issue.id)   # a second save! on the same object raises StaleObjectError
unless issue.journals.where.not(notes: [nil, '']).exists?
  issue.init_journal(admin, "Looked at it: paper tray 2.\\nSecond line.")
  issue.save!
end
puts "seeded project=#{{project.id}} role=#{{role.id}} issue=#{{issue.id}}"
"""

# An issue custom field for tests (its name from the environment), on every tracker.
CUSTOM_FIELD_RB = """\
name = ENV.fetch('LAB_FIELD')
field = IssueCustomField.find_by(name: name) || IssueCustomField.new(name: name)
field.field_format = 'string'; field.is_for_all = true; field.is_filter = true
field.visible = true; field.editable = true; field.tracker_ids = Tracker.pluck(:id)
field.save!
"""

# Lab-only switches for tests: (SQL, parameters) on the instance's database. Redmine
# reads a role's permissions on every request and reloads its settings once their
# `updated_on` is newer than its cache, so the running server sees the change on its
# next request (a `rails runner` does the same in 6 s instead of milliseconds).
PRIVATE_LINE = "- :set_notes_private\n"
SWITCHES: dict[str, tuple[str, tuple[str, ...]]] = {
    "grant-private-notes": ("UPDATE roles SET permissions = permissions || ? WHERE name = ? "
                            "AND instr(permissions, ?) = 0",
                            (PRIVATE_LINE, ROLE, PRIVATE_LINE)),
    "revoke-private-notes": ("UPDATE roles SET permissions = replace(permissions, ?, '') "
                             "WHERE name = ?", (PRIVATE_LINE, ROLE)),
    "rest-off": ("UPDATE settings SET value = '0', updated_on = ? WHERE name = "
                 "'rest_api_enabled'", ()),
    "rest-on": ("UPDATE settings SET value = '1', updated_on = ? WHERE name = "
                "'rest_api_enabled'", ()),
}


class RedmineServer(LabServer):
    """Redmine served by WEBrick; tests reach it with the bot's API key (not an admin)."""

    name: ClassVar[str] = "redmine"
    apt_packages: ClassVar[tuple[str, ...]] = ("redmine", "redmine-sqlite", "ruby-webrick")
    debconf: ClassVar[tuple[str, ...]] = (
        "redmine redmine/current-instances string default",
        "redmine redmine/instances/default/dbconfig-install boolean true",
        "redmine redmine/instances/default/database-type select sqlite3",
        "redmine redmine/instances/default/db/dbname string redmine_default",
        "redmine redmine/instances/default/db/basepath string "
        "/var/lib/dbconfig-common/sqlite3/redmine/instances/default",
        "redmine redmine/instances/default/default-language select en",
    )
    python_needs: ClassVar[dict[str, str]] = {"httpx": "httpx"}
    ready_timeout: ClassVar[float] = 120.0  # 3-4 s idle; far more on a loaded machine
    url: ClassVar[str] = f"http://{HOST}:{PORT}"

    # -- paths --------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.dir.absolute()

    @property
    def instance(self) -> Path:
        return self.root / "instance"

    @property
    def database(self) -> Path:
        return self.instance / "db" / "redmine.sqlite3"

    @property
    def golden(self) -> Path:
        return self.root / "golden.sqlite3"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def key_file(self) -> Path:
        """The bot's API key (the profile's token)."""
        return self.secrets_dir / "bot-key"

    @property
    def admin_key_file(self) -> Path:
        return self.secrets_dir / "admin-key"

    @property
    def setup_log(self) -> Path:
        return self.root / "setup.log"

    # -- lifecycle ----------------------------------------------------------------
    def is_set_up(self) -> bool:
        return self.golden.exists() and self.key_file.exists()

    def setup(self) -> None:
        """A private instance: config, migrated and seeded database, golden copy."""
        if self.is_set_up():
            return
        for path in (self.root, self.secrets_dir):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)  # password hashes and API keys
        for sub in ("config", "log", "files", "tmp", "public/plugin_assets", "db"):
            (self.instance / sub).mkdir(parents=True, exist_ok=True)
        self.database.unlink(missing_ok=True)  # a half-done earlier setup
        (self.instance / "config" / "database.yml").write_text(
            f"production:\n  adapter: sqlite3\n  database: {self.database}\n"
            "  encoding: utf8\n  timeout: 5000\n")
        base.write_secret(self.instance / "config" / "secret_key.txt", secrets.token_hex(32))
        self._link_instance()
        self._gemfile_local()
        log = self.setup_log
        log.write_bytes(b"")
        self._run(["bin/rake", "db:migrate"], log=log, what="rake db:migrate")
        self._run(["bin/rake", "redmine:load_default_data"], log=log,
                  what="rake redmine:load_default_data", env={"REDMINE_LANG": "en"})
        keys = {"LAB_ADMIN_KEY": self._key(self.admin_key_file),
                "LAB_BOT_KEY": self._key(self.key_file),
                "LAB_BOT_PASSWORD": base.new_password()}
        self.runner(SEED_RB, env=keys, what="the Redmine seed")
        tmp = self.golden.with_suffix(".tmp")
        shutil.copyfile(self.database, tmp)
        tmp.replace(self.golden)  # last: its presence means set up

    def start(self) -> None:
        base.require_port(HOST, PORT, self.name)
        self._link_instance()
        self._gemfile_local()
        pid_file = self.instance / "tmp" / "server.pid"
        pid_file.unlink(missing_ok=True)  # a stale one makes rails refuse to start
        proc, _ = process.spawn(
            ["bin/rails", "server", "-u", "webrick", "-b", HOST, "-p", str(PORT),
             "-P", str(pid_file)],
            log=self.log_file, env=self._env(), cwd=SHARE)
        self.record([proc])

    def probe(self) -> None:
        """GET issue 1 with the bot's key: what the ticket backend does first."""
        import httpx

        try:
            r = httpx.get(f"{self.url}/issues/1.json", headers=self._auth(), timeout=15)
        except httpx.HTTPError as exc:
            raise LabError(f"redmine: GET /issues/1.json failed: {type(exc).__name__}") \
                from None
        if r.status_code != 200:
            raise LabError(f"redmine: GET /issues/1.json answered {r.status_code}")

    def reset(self) -> None:
        """Copy the golden database back and empty the files (never while it runs)."""
        was_running = bool(self.procs.load(self.name))
        self.stop()
        base.restore_copy(self.golden, self.database)
        files = self.instance / "files"
        shutil.rmtree(files, ignore_errors=True)
        files.mkdir()
        if was_running:
            self.start()
            self.wait_ready()

    def profile(self) -> dict[str, Any]:
        """The `lab-redmine` profile's tickets section (the `lab` profile keeps RT)."""
        return {"tickets": {"kind": "redmine", "url": self.url,
                            "token": f"file:{self.key_file}"}}

    # -- helpers for tests ----------------------------------------------------------
    def client(self, *, admin: bool = False) -> httpx.Client:
        """A REST client as the bot (or the admin); tests close it."""
        import httpx

        return httpx.Client(base_url=self.url, headers=self._auth(admin=admin), timeout=30)

    def new_issue(self, subject: str) -> int:
        """A new issue in the helpdesk project, opened by the admin."""
        with self.client(admin=True) as http:
            r = http.post("/issues.json", json={"issue": {
                "project_id": PROJECT, "subject": subject, "tracker_id": 3}})
        if r.status_code != 201:
            raise LabError(f"redmine: creating an issue answered {r.status_code}: "
                           f"{r.text[:200]}")
        return int(r.json()["issue"]["id"])

    def custom_field(self, name: str) -> int:
        """An issue custom field (text, every project and tracker, usable as a filter),
        made once with `rails runner` (the REST API cannot): its id."""
        with self.client(admin=True) as http:
            found = http.get("/custom_fields.json").json().get("custom_fields") or []
        for field in found:
            if field.get("name") == name:
                return int(field["id"])
        self.runner(CUSTOM_FIELD_RB, env={"LAB_FIELD": name}, what=f"custom field {name}")
        with self.client(admin=True) as http:
            found = http.get("/custom_fields.json").json().get("custom_fields") or []
        for field in found:
            if field.get("name") == name:
                return int(field["id"])
        raise LabError(f"redmine: custom field {name} was not made")

    def new_issue_as(self, fields: dict[str, Any], *, admin: bool = True) -> int:
        """A new issue in the helpdesk project with these fields (Redmine's `issue`
        object: subject, custom_fields, …), by the admin or the bot."""
        with self.client(admin=admin) as http:
            r = http.post("/issues.json", json={"issue": {"project_id": PROJECT,
                                                          "tracker_id": 3, **fields}})
        if r.status_code != 201:
            raise LabError(f"redmine: creating an issue answered {r.status_code}: "
                           f"{r.text[:200]}")
        return int(r.json()["issue"]["id"])

    def switch(self, name: str) -> None:
        """Change the running server's settings: one of SWITCHES."""
        import sqlite3
        from datetime import UTC, datetime

        sql, params = SWITCHES[name]
        if not params:  # a setting: its time, for Redmine's cache to notice
            params = (datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),)
        db = sqlite3.connect(self.database, timeout=30)
        try:
            with db:
                if db.execute(sql, params).rowcount != 1 and name.startswith("rest"):
                    raise LabError(f"redmine: switch {name}: no such setting")
        finally:
            db.close()

    def runner(self, ruby: str, *, env: dict[str, str] | None = None, what: str) -> None:
        """`rails runner` on the instance, the script from a file (never in argv)."""
        script = self.root / "runner.rb"
        script.write_text(ruby)
        self._run(["bin/rails", "runner", str(script)], log=self.setup_log, what=what,
                  env=env)

    # -- internals ----------------------------------------------------------------
    def _auth(self, *, admin: bool = False) -> dict[str, str]:
        path = self.admin_key_file if admin else self.key_file
        try:
            key = path.read_text().strip()
        except OSError:
            raise LabError("redmine: no API key yet", hint="run `adminkit lab up redmine`") \
                from None
        return {"X-Redmine-API-Key": key}

    @staticmethod
    def _key(path: Path) -> str:
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_hex(20)  # 40 characters, as Redmine makes them
        base.write_secret(path, key)
        return key

    def _link_instance(self) -> None:
        """Debian finds an instance only under /var/lib/redmine: a symlink to ours."""
        link = INSTANCES / INSTANCE
        if link.is_symlink() and Path(os.readlink(link)) == self.instance:
            return
        if link.exists() and not link.is_symlink():
            raise LabError(f"redmine: {link} exists and is not the lab's symlink",
                           hint="another Redmine instance uses that name")
        tmp = link.with_name(f".{INSTANCE}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.instance)
        tmp.replace(link)

    @staticmethod
    def _gemfile_local() -> None:
        """Without it Bundler hides WEBrick and `rails server` finds no server."""
        line = 'gem "webrick"\n'
        text = GEMFILE_LOCAL.read_text() if GEMFILE_LOCAL.exists() else ""
        if "webrick" not in text:
            GEMFILE_LOCAL.write_text(text + line)

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "REDMINE_INSTANCE": INSTANCE, "RAILS_ENV": "production",
                **(extra or {})}

    def _run(self, argv: list[str], *, log: Path, what: str,
             env: dict[str, str] | None = None) -> None:
        base.run_logged(argv, server=self.name, what=what, log=log, cwd=SHARE,
                        env=self._env(env))
