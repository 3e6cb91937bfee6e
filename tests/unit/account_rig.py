"""Account actions run as a command runs them, against the in-memory directory.

A `Rig` holds the directory, the profile's policy and account settings, and a journal
in the test's tmp_path; `run` drives actions through the real `Runner` with a
`Context` bound to the directory (and, if asked, the journal hook); `bulk` as the run
service's bulk runs do (automation/service.py, which cannot be handed a bound context
yet): duplicate rows and the blast-radius limit refused first, every row planned without
writing, then written from those plans on the same context.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adminkit.accounts.settings import AccountsConfig, DirectoryConfig
from adminkit.automation.bulk import batch_problems, blast_radius
from adminkit.core.action import Action, Plan
from adminkit.core.config import PolicyConfig, Profile
from adminkit.core.context import Context
from adminkit.core.delivery import Delivery, delivery
from adminkit.core.result import Result, Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner, RunReport
from adminkit.journal.hook import JournalHook
from adminkit.journal.store import Journal
from tests.fakes.memdir import MemDirectory, bind, config

KINDS = ["ad", "openldap"]


@dataclass
class Rig:
    directory: MemDirectory
    tmp: Path
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    journaled: bool = False  # runs append to a journal in tmp (SQLite: slower, so asked for)

    @classmethod
    def new(cls, kind: str, tmp: Path, **directory: Any) -> Rig:
        return cls(MemDirectory(config(kind, **directory)), tmp)

    @property
    def kind(self) -> str:
        return self.directory.kind

    @property
    def cfg(self) -> DirectoryConfig:
        return self.directory.config

    def profile(self) -> Profile:
        return Profile.of(name="mem", directory=self.directory.config, policy=self.policy,
                          accounts=self.accounts)

    def protect(self, *, accounts: Sequence[str] = (), groups: Sequence[str] = (),
                bulk_limit: int = 25) -> None:
        self.policy = PolicyConfig(protected_accounts=list(accounts),
                                   protected_groups=list(groups), bulk_limit=bulk_limit)

    def template(self, **template: Any) -> None:
        """The profile's accounts section with a template (and other settings) changed."""
        naming = template.pop("naming", {})
        others = {k: template.pop(k) for k in ("password_length",) if k in template}
        self.accounts = AccountsConfig.model_validate(
            {"template": template, "naming": naming, **others})

    @property
    def journal_path(self) -> Path:
        return self.tmp / "journal" / "journal.db"

    def _execute(self, ctx: Context, actions: Sequence[Action[Any]], workers: int,
                 planned: Mapping[int, Plan] | None = None) -> RunReport:
        journal = Journal(self.journal_path) if self.journaled else None
        try:
            hooks = [JournalHook(journal)] if journal else []
            return Runner(ctx, hooks, planned=planned).execute(list(actions), workers=workers)
        finally:
            ctx.close()
            if journal:
                journal.close()

    def run(self, *actions: Action[Any], check: bool = False, workers: int = 1) -> RunReport:
        run = Run(command="test", profile="mem", check=check)
        return self._execute(bind(Context(run=run, profile=self.profile()), self.directory),
                             actions, workers)

    def one(self, action: Action[Any], *, check: bool = False) -> Result:
        [result] = self.run(action, check=check).results
        return result

    def bulk(self, actions: Sequence[Action[Any]], *, workers: int = 4,
             force: bool = False) -> RunReport:
        """Refusals of the whole file, a check pass over every row, then the writes from
        its plans on its context (a row that failed its plan is tried, and fails, again)."""
        batch_problems(actions, [f"row {i + 1}" for i in range(len(actions))])
        blast_radius("bulk", actions, self.profile(), force)
        preflight = Run(command="bulk", profile="mem", check=True)
        ctx = bind(Context(run=preflight, profile=self.profile()), self.directory)
        planner = Runner(ctx, [], keep_plans=True)
        planner.execute(list(actions), workers=workers)
        writes = ctx.handover(Run(command="bulk", profile="mem"))
        return self._execute(writes, actions, workers, planned=planner.plans)

    def journal_rows(self) -> list[dict[str, Any]]:
        """The action outcome rows journaled so far (not the `started` intents)."""
        assert self.journaled, "set rig.journaled = True before the run"
        journal = Journal(self.journal_path)
        try:
            return [r for r in journal.entries() if r["status"] != "started"]
        finally:
            journal.close()

    def journal_bytes(self) -> bytes:
        """The journal's files as stored (the database and its write-ahead log); a journal
        with no action rows is an error, not an empty text that holds no password."""
        assert self.journal_rows(), "nothing was journaled"
        found = [p for p in self.journal_path.parent.iterdir() if p.is_file()]
        return b"".join(p.read_bytes() for p in sorted(found))

    def deliver(self) -> Delivery:
        """Passwords into LOGIN.password files in a folder of tmp_path: `--deliver file:DIR`."""
        self.password_dir.mkdir(exist_ok=True)
        return delivery(f"file:{self.password_dir}")

    @property
    def password_dir(self) -> Path:
        return self.tmp / "pw"

    def delivered(self, login: str) -> str:
        path = self.password_dir / f"{login}.password"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        return path.read_text(encoding="utf-8").strip()


def raw_text(result: Result) -> str:
    """Everything a result says, before any scrubbing: summary, changes, data, error."""
    return " ".join([result.summary, str(result.error), repr(result.changes),
                     repr(result.data)])


def statuses(report: RunReport) -> list[tuple[str, Status]]:
    return [(r.target, r.status) for r in report.results]
