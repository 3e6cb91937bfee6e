"""Bulk account creation: adminkit against `ldapadd` and Ansible, on AD and OpenLDAP.

Creates N users, each with a password, enabled and a member of two groups, on the lab's
Samba AD and on the lab's OpenLDAP, three ways, in ONE run, and prints users/s, the
ratio to `ldapadd`, the peak RSS of the measured process, and the project's goals
(met / not met; a benchmark reports, it does not assert):

1. adminkit: `adminkit --profile lab[-openldap] account import users.csv --deliver file:DIR`,
   a subprocess with a fresh journal (ADMINKIT_JOURNAL). It validates the whole file
   first, then writes on the profile's pool of connections; the time until its journal's
   run row (written once every row is planned) is shown as start + validation. Its
   bytecode is compiled first (`compileall`), as an installed package's is: a process
   run with PYTHONDONTWRITEBYTECODE would otherwise compile adminkit anew every time.
2. ldapadd: the equivalent LDIF over ONE connection, passwords included (AD:
   `unicodePwd::` + userAccountControl 512 + pwdLastSet 0; OpenLDAP: inetOrgPerson +
   posixAccount, cleartext userPassword, pwdReset), then per user two `changetype: modify`
   records adding it to its groups: `ldapadd -c -x -y FILE` (password from a 0600 file,
   never argv), with LDAPTLS_CACERT.
3. Ansible (default 200 users; the rate is what is compared): community.general's
   ldap_entry (+ ldap_passwd on OpenLDAP) and ldap_attrs for the memberships, one
   module run per entry (bench/accounts_bulk.yml), pipelining on. ansible + python-ldap
   are installed into bench/.venv-ansible on first use (python-ldap needs
   libldap2-dev libsasl2-dev, installed with apt-get if missing and root).

Every method starts from the lab's golden copy (`Lab().server(NAME).reset()`), gets two
fresh groups, and uses its own logins; afterwards the result is checked by a search
(users of that method that are enabled and in both groups) and the lab is reset again
at the end. Peak RSS is the measured process's VmHWM, sampled every 20 ms (for Ansible:
the largest single process of its tree; the directory server's memory is not in it);
client CPU is wait4()'s user+system time of the child and what it reaped, server CPU
that of the lab's samba / slapd meanwhile.
Absolute times vary 2-9x on a shared 2-core machine: only ratios within one run mean
anything. With --rounds N, ldapadd and adminkit run back to back N times per directory
and size; the table shows each method's median round, and the goals the median of the N
paired ratios with their spread (a round's ratio compares two runs under the same load)
and adminkit's peak RSS. --sizes runs several sizes in one invocation; --sizes-ad and
--sizes-openldap give a directory its own (Samba hashes passwords slowly: 20,000 users
take about 10 minutes there).

    .venv/bin/python bench/accounts_bulk.py                   # 2,000 users, both directories
    .venv/bin/python bench/accounts_bulk.py --users 300       # quicker
    .venv/bin/python bench/accounts_bulk.py --sizes 500,2000,20000 --sizes-ad 500,2000 \
        --rounds 3 --methods ldapadd,adminkit                 # the goals of every size
    .venv/bin/python bench/accounts_bulk.py --rounds 3 --methods ldapadd,adminkit
    .venv/bin/python bench/accounts_bulk.py --only ad --methods ldapadd,adminkit
    .venv/bin/python bench/accounts_bulk.py --users 300 --count-ldap-ops  # + LDAP ops
    .venv/bin/python bench/accounts_bulk.py --setup-only      # just install the Ansible venv
    .venv/bin/python bench/accounts_bulk.py --only openldap --sizes 500 --rounds 3 \
        --methods ldapadd,adminkit --warm     # adminkit through a warm process

Run it as root (the lab and apt need it), on a lab nobody else is testing against:
resetting a directory restarts its server. On a shared lab, hold its lock for the run
(`flock /tmp/adminkit-lab.lock .venv/bin/python bench/accounts_bulk.py ...`) and keep
each run short. A measurement during which the server was
restarted by someone else is flagged and taken again (--retries). The run uses its own
copy of the lab profiles (ADMINKIT_CONFIG in a temporary folder); lab-openldap's copy
protects a bench group instead of the AD groups `lab up` puts there (see
OPENLDAP_PROTECTED). A run of 2,000 users takes about 7 minutes without Ansible and
13 more with it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from adminkit.lab.base import LabServer
    from adminkit.lab.lab import Lab

HERE = Path(__file__).resolve().parent
OP_COUNTER = HERE / "ldapops"  # a sitecustomize that counts adminkit's ldap3 operations
ANSIBLE_VENV = HERE / ".venv-ansible"
PLAYBOOK = HERE / "accounts_bulk.yml"
APT_BUILD_DEPS = ("libldap2-dev", "libsasl2-dev")  # python-ldap compiles against them
ANSIBLE_PIP = ("ansible", "python-ldap")  # `ansible` brings community.general
METHODS = ("ldapadd", "adminkit", "ansible")
PREFIX = {"adminkit": "bk", "ldapadd": "bl", "ansible": "ba"}
UID_BASE = {"adminkit": 0, "ldapadd": 200_000, "ansible": 300_000}  # adminkit: its counter
# (directory, users) -> adminkit / ldapadd at least; users -> adminkit's peak RSS at most
RATIO_GOALS = {("ad", 2000): 0.95, ("openldap", 2000): 0.8, ("openldap", 500): 0.8}
RSS_GOALS_MIB = {20_000: 150.0}
# `lab up` gives lab-openldap the AD policy too (its sections other than `directory` go
# into both profiles), naming groups OpenLDAP lacks, and adminkit then refuses every
# write. This run's copy of the profile protects a group of the bench's own instead.
OPENLDAP_PROTECTED = "bench-admins"
GOAL_VS_ANSIBLE = 10.0
GIVEN = ("Jiří", "Jana", "Petr", "Eva", "Tomáš", "Lucie", "Martin", "Kateřina", "Pavel",
         "Tereza", "Jan", "Zuzana", "Lukáš", "Markéta", "David", "Hana")
SURNAMES = ("Novák", "Svoboda", "Dvořák", "Černá", "Procházka", "Kučera", "Veselý", "Horák",
            "Němec", "Marek", "Pokorná", "Růžička", "Beneš", "Fiala", "Sedláček", "Doležal")
SYMBOLS = "-_.+!#%"


# -- what is created -------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    login: str
    given_name: str
    surname: str
    mail: str
    password: str
    uid_number: int

    @property
    def display_name(self) -> str:  # adminkit's default: "given surname"
        return f"{self.given_name} {self.surname}"


def new_password(length: int = 16) -> str:
    """Random, with the four character classes AD complexity counts."""
    pools = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS)
    chars = [secrets.choice(pool) for pool in pools]
    chars += [secrets.choice("".join(pools)) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def people(method: str, round_no: int, count: int) -> list[Person]:
    """`count` distinct people; logins and display names unique per method and round."""
    tag = f"{PREFIX[method]}{round_no}"
    out = []
    for i in range(1, count + 1):
        login = f"{tag}{i:05d}"
        out.append(Person(login=login, given_name=GIVEN[i % len(GIVEN)],
                          surname=f"{SURNAMES[(i // len(GIVEN)) % len(SURNAMES)]}-{login}",
                          mail=f"{login}@bench.example.test", password=new_password(),
                          uid_number=UID_BASE[method] + round_no * 10_000 + i))
    return out


@dataclass(frozen=True)
class Target:
    """One lab directory, as the profile `lab up` wrote describes it."""

    kind: str  # "ad" | "openldap"
    label: str
    server: str  # lab server name
    profile: str  # adminkit profile name
    host: str
    port: int
    base_dn: str
    bind_dn: str
    bind_password: str
    ca_file: str
    users_ou: str
    groups_ou: str
    upn_suffix: str | None
    default_gid: int

    @property
    def url(self) -> str:  # ldapadd / Ansible: by address, the certificates carry the IP
        return f"ldaps://127.0.0.1:{self.port}"

    @property
    def groups(self) -> tuple[str, str]:
        return ("Bench-Staff", "Bench-VPN") if self.kind == "ad" else ("bench-staff", "bench-vpn")

    def group_dn(self, name: str) -> str:
        return f"CN={name},{self.groups_ou}" if self.kind == "ad" else f"cn={name},{self.groups_ou}"

    def user_dn(self, person: Person) -> str:
        if self.kind == "ad":  # adminkit: CN=<display name>,<users OU>
            return f"CN={escape_rdn(person.display_name)},{self.users_ou}"
        return f"uid={person.login},{self.users_ou}"


def escape_rdn(value: str) -> str:
    """RFC 4514 for the characters our names can hold."""
    out = "".join("\\" + c if c in ',+"\\<>;=' else c for c in value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    return out[:-1] + "\\ " if out.endswith(" ") else out


def load_target(kind: str, config_dir: Path) -> Target:
    from urllib.parse import urlparse

    from adminkit.core.config import load_profile

    name = "lab" if kind == "ad" else "lab-openldap"
    profile = load_profile(name, config_dir)
    cfg = profile.directory
    assert cfg is not None and cfg.password is not None, f"profile {name} has no directory"
    url = urlparse(cfg.url)
    return Target(
        kind=kind, label="AD (Samba)" if kind == "ad" else "OpenLDAP",
        server="samba" if kind == "ad" else "slapd", profile=name,
        host=url.hostname or "127.0.0.1", port=url.port or 636, base_dn=cfg.base_dn,
        bind_dn=cfg.bind_user or "",
        bind_password=profile.secret(cfg.password, "directory password").reveal(),
        ca_file=str(cfg.ca_file), users_ou=cfg.users_ou or cfg.base_dn,
        groups_ou=cfg.groups_ou or cfg.base_dn, upn_suffix=cfg.upn_suffix,
        default_gid=int(cfg.options.get("default_gid", 100)))


# -- LDIF --------------------------------------------------------------------------------
def ldif_line(attr: str, value: str | bytes) -> str:
    """`attr: value`, or `attr:: base64` where RFC 2849 wants it (non-ASCII, binary...)."""
    if isinstance(value, bytes):
        return f"{attr}:: {base64.b64encode(value).decode()}"
    unsafe = (not value.isascii() or value[:1] in (" ", ":", "<") or value.endswith(" ")
              or any(c in value for c in "\r\n\0"))
    if unsafe:
        return f"{attr}:: {base64.b64encode(value.encode()).decode()}"
    return f"{attr}: {value}"


def user_entry(target: Target, p: Person) -> tuple[list[str], dict[str, list[str | bytes]]]:
    """Object classes and attributes of the account, as adminkit's backends write them."""
    attrs: dict[str, list[str | bytes]]
    if target.kind == "ad":
        attrs = {"cn": [p.display_name], "sAMAccountName": [p.login], "givenName": [p.given_name],
                 "sn": [p.surname], "displayName": [p.display_name], "mail": [p.mail],
                 "unicodePwd": [f'"{p.password}"'.encode("utf-16-le")],
                 "userAccountControl": ["512"], "pwdLastSet": ["0"]}
        if target.upn_suffix:
            attrs["userPrincipalName"] = [f"{p.login}@{target.upn_suffix}"]
        return ["top", "person", "organizationalPerson", "user"], attrs
    attrs = {"uid": [p.login], "cn": [p.display_name], "givenName": [p.given_name],
             "sn": [p.surname], "displayName": [p.display_name], "mail": [p.mail],
             "userPassword": [p.password], "uidNumber": [str(p.uid_number)],
             "gidNumber": [str(target.default_gid)], "homeDirectory": [f"/home/{p.login}"],
             "loginShell": ["/bin/bash"], "pwdReset": ["TRUE"]}
    return ["inetOrgPerson", "posixAccount"], attrs


def write_ldif(target: Target, persons: Sequence[Person], out: TextIO) -> None:
    """Per user: the add (password included), then one modify per group."""
    for p in persons:
        classes, attrs = user_entry(target, p)
        dn = target.user_dn(p)
        lines = [ldif_line("dn", dn), *(f"objectClass: {c}" for c in classes)]
        lines += [ldif_line(a, v) for a, vals in attrs.items() for v in vals]
        out.write("\n".join(lines) + "\n\n")
        for group in target.groups:
            out.write(f"{ldif_line('dn', target.group_dn(group))}\nchangetype: modify\n"
                      f"add: member\n{ldif_line('member', dn)}\n-\n\n")


def groups_ldif(target: Target) -> str:
    out = []
    extra = (OPENLDAP_PROTECTED,) if target.kind == "openldap" else ()
    for name in (*target.groups, *extra):
        if target.kind == "ad":
            out.append(f"dn: {target.group_dn(name)}\nobjectClass: top\nobjectClass: group\n"
                       f"cn: {name}\nsAMAccountName: {name}\n")
        else:  # groupOfNames needs a member: the lab's placeholder, like its seed does
            out.append(f"dn: {target.group_dn(name)}\nobjectClass: groupOfNames\ncn: {name}\n"
                       f"member: cn=nobody,{target.base_dn}\n")
    return "\n".join(out)


def write_csv(target: Target, persons: Sequence[Person], path: Path) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["given_name", "surname", "login", "mail", "groups"])
        for p in persons:
            writer.writerow([p.given_name, p.surname, p.login, p.mail, ";".join(target.groups)])


def ansible_vars(target: Target, persons: Sequence[Person]) -> dict[str, Any]:
    users = []
    for p in persons:
        classes, attrs = user_entry(target, p)
        plain: dict[str, Any] = {}
        for name, vals in attrs.items():
            if name == "unicodePwd":
                # ldap_entry sends str values UTF-8 encoded; a str whose UTF-8 bytes are
                # the UTF-16-LE of the quoted (ASCII) password is the only way to pass it.
                plain[name] = "".join(ch + "\0" for ch in f'"{p.password}"')
            elif target.kind == "openldap" and name in ("userPassword", "pwdReset"):
                continue  # ldap_passwd sets it (and ppolicy then sets pwdReset)
            else:
                plain[name] = vals[0] if len(vals) == 1 else vals
        users.append({"dn": target.user_dn(p), "object_class": classes, "attributes": plain,
                      "password": p.password})
    members = [{"group": target.group_dn(g), "user": target.user_dn(p)}
               for p in persons for g in target.groups]
    return {"kind": target.kind, "server_uri": target.url, "bind_dn": target.bind_dn,
            "users": users, "members": members,
            "ansible_python_interpreter": str(ANSIBLE_VENV / "bin" / "python")}


def private_file(path: Path, text: str) -> Path:
    """Created 0600 before anything is written into it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


# -- measuring a child -----------------------------------------------------------------
@dataclass
class Child:
    rc: int
    seconds: float
    maxrss_kib: int
    cpu: float
    marks: dict[str, float] = field(default_factory=dict)  # stderr prefix -> seconds
    stderr_tail: str = ""
    stderr_all: list[str] = field(default_factory=list)


def _children_of(pids: set[int]) -> set[int]:
    """`pids` and every process below them (one pass over /proc)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            parent[int(entry.name)] = int(raw[raw.rindex(")") + 2:].split()[1])
    found = set(pids)
    grew = True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in found and pid not in found}
        found |= more
        grew = bool(more)
    return found


class PeakRss(threading.Thread):
    """Samples VmHWM (the kernel's RSS high-water mark, per process, reset by exec) of a
    process and, with `tree`, of its descendants; keeps the largest.

    Not wait4()'s ru_maxrss: a child forked from this Python process and then exec'ed
    carries this process's high-water mark over the exec, so that figure would be ours.
    """

    def __init__(self, pid: int, *, tree: bool, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.tree, self.interval = pid, tree, interval
        self.peak: dict[int, int] = {}
        self.done = threading.Event()

    def sample(self) -> None:
        for pid in _children_of({self.pid}) if self.tree else {self.pid}:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak[pid] = max(self.peak.get(pid, 0), int(line.split()[1]))

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.interval * (5 if self.tree else 1))

    def stop(self) -> int:
        self.done.set()
        self.join()
        return max(self.peak.values(), default=0)


def run_child(argv: Sequence[str], *, env: dict[str, str], stdout: Path, stderr: Path,
              marks: Sequence[str] = (), tree: bool = False) -> Child:
    """Run to the end: wall time, peak RSS (sampled, the largest process of the tree with
    `tree`) and wait4()'s CPU time of exactly this child and what it waited for.

    Lines of stderr starting with one of `marks` are time-stamped as they arrive.
    """
    seen: dict[str, float] = {}
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.PIPE)
        sampler = PeakRss(proc.pid, tree=tree)
        sampler.start()
        assert proc.stderr is not None
        pipe = proc.stderr

        def pump() -> None:
            for line in pipe:
                for mark in marks:
                    if mark not in seen and line.startswith(mark.encode()):
                        seen[mark] = time.perf_counter() - start
                err.write(line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        # A zombie has no VmHWM any more: growth in the last sampling interval is missed.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = sampler.stop()
        reader.join()
        pipe.close()
    lines = stderr.read_text(errors="replace").strip().splitlines()
    tail = [line for line in lines if not line.startswith("LDAPOPS ")][-12:]
    return Child(rc=proc.returncode, seconds=seconds, maxrss_kib=peak,
                 cpu=usage.ru_utime + usage.ru_stime, marks=seen, stderr_tail="\n".join(tail),
                 stderr_all=lines)


def server_cpu(server: LabServer) -> float:
    """CPU seconds used so far by the server's processes (its own process groups)."""
    groups = {p.pid for p in server.running_procs()}
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        if int(fields[2]) in groups:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


# -- the three methods -----------------------------------------------------------------
@dataclass
class Measurement:
    target: Target
    method: str
    users: int
    seconds: float
    maxrss_kib: int
    client_cpu: float
    server_cpu: float
    verified: int
    validate_s: float | None = None
    note: str = ""
    disturbed: bool = False  # the server was restarted by someone else meanwhile
    details: list[str] = field(default_factory=list)
    round_no: int = 0

    @property
    def rate(self) -> float:
        return self.verified / self.seconds if self.seconds else 0.0


@dataclass
class Bench:
    lab: Lab
    work: Path
    config_dir: Path
    count_ops: bool = False
    warm_env: dict[str, str] | None = None  # --warm: the environment of a warm process
    timeline: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def part(self, what: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timeline.append((what, time.perf_counter() - start))

    def ldap_env(self, target: Target) -> dict[str, str]:
        return {**os.environ, "LDAPTLS_CACERT": target.ca_file, "LDAPTLS_REQCERT": "demand"}

    def bind_file(self, target: Target) -> Path:
        return private_file(self.work / f"{target.kind}.bindpw", target.bind_password)

    def ldap_tool(self, tool: str, target: Target, *args: str,
                  stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [tool, "-H", target.url, "-x", "-D", target.bind_dn,
                "-y", str(self.bind_file(target)), *args]
        return subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              env=self.ldap_env(target), check=False)

    def fresh(self, target: Target) -> None:
        """The golden copy back, then the two groups every method adds its users to."""
        with self.part(f"{target.kind}: reset + groups"):
            self.lab.server(target.server).reset()
            done = self.ldap_tool("ldapadd", target, stdin=groups_ldif(target))
            if done.returncode != 0:
                raise SystemExit(f"{target.label}: creating the bench groups failed: "
                                 f"{done.stderr.strip()}")

    def verify(self, target: Target, method: str, round_no: int) -> int:
        """Users of this method that are enabled / have a password and are in both groups."""
        tag = f"{PREFIX[method]}{round_no}"
        member_of = "".join(f"(memberOf={target.group_dn(g)})" for g in target.groups)
        if target.kind == "ad":
            flt = (f"(&(objectClass=user)(sAMAccountName={tag}*)(userAccountControl=512)"
                   f"{member_of})")
        else:
            flt = f"(&(objectClass=posixAccount)(uid={tag}*)(userPassword=*){member_of})"
        with self.part(f"{target.kind}: verify {method}"):
            done = self.ldap_tool("ldapsearch", target, "-LLL", "-o", "ldif-wrap=no",
                                  "-E", "pr=500/noprompt", "-b", target.users_ou, flt, "1.1")
        return sum(1 for line in done.stdout.splitlines() if line.startswith("dn:"))

    def measure(self, target: Target, method: str, round_no: int, count: int) -> Measurement:
        persons = people(method, round_no, count)
        self.fresh(target)
        run = {"adminkit": self.adminkit, "ldapadd": self.ldapadd, "ansible": self.ansible}
        server = self.lab.server(target.server)
        pids = [p.pid for p in server.running_procs()]
        cpu_before = server_cpu(server)
        with self.part(f"{target.kind}: {method} ({count} users)"):
            child, validate_s, note = run[method](target, persons)
        details = [line.removeprefix("LDAPOPS ") for line in child.stderr_all
                   if line.startswith("LDAPOPS ")]
        cpu_server = server_cpu(server) - cpu_before
        verified = self.verify(target, method, round_no)
        # The lab is shared: a test run elsewhere may reset (restart) the server under us.
        disturbed = [p.pid for p in server.running_procs()] != pids
        if disturbed:
            note = "SERVER RESTARTED meanwhile (someone else resetting the lab?); " + note
        if child.rc != 0 and not note:
            note = f"exit {child.rc}"
        if child.rc != 0 or verified != count:
            print(f"  ! {target.label} {method}: exit {child.rc}, {verified}/{count} verified"
                  + (f"\n    {child.stderr_tail.replace(chr(10), chr(10) + '    ')}"
                     if child.stderr_tail and not disturbed else ""), file=sys.stderr)
        return Measurement(target, method, count, child.seconds, child.maxrss_kib, child.cpu,
                           cpu_server, verified, validate_s, note, disturbed, details,
                           round_no)

    # -- 1. adminkit ------------------------------------------------------------------------
    def adminkit(self, target: Target, persons: Sequence[Person]
                 ) -> tuple[Child, float | None, str]:
        folder = Path(tempfile.mkdtemp(prefix=f"adminkit-{target.kind}-", dir=self.work))
        csv_path = folder / "users.csv"
        write_csv(target, persons, csv_path)
        delivered = folder / "passwords"
        delivered.mkdir(mode=0o700)
        env = {**os.environ, "ADMINKIT_CONFIG": str(self.config_dir),
               "ADMINKIT_JOURNAL": str(folder / "journal.db"), "NO_COLOR": "1"}
        env.pop("ADMINKIT_PROFILE", None)
        if self.warm_env is not None:
            env["XDG_RUNTIME_DIR"] = self.warm_env["XDG_RUNTIME_DIR"]
        if self.count_ops:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OP_COUNTER),
                                                              env.get("PYTHONPATH")]))
        argv = [str(adminkit_exe()), "--profile", target.profile, "--output", "json",
                "account", "import", str(csv_path), "--deliver", f"file:{delivered}"]
        started = time.time()
        child = run_child(argv, env=env, stdout=folder / "out.json", stderr=folder / "err.txt")
        note = ""
        try:
            report = json.loads((folder / "out.json").read_text())
            counts = report.get("counts", {})
            durations = [r.get("duration") or 0.0 for r in report.get("results", [])]
            if durations:
                note = (f"per row {statistics.median(durations) * 1000:.0f} ms median, "
                        f"{max(durations) * 1000:.0f} ms max; "
                        + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
        except (OSError, ValueError):
            note = f"exit {child.rc}, no JSON report"
        written = sum(1 for _ in delivered.iterdir())
        if written != len(persons):
            note += f"; {written} password files"
        return child, planned_after(folder / "journal.db", started), note

    # -- 2. ldapadd -------------------------------------------------------------------------
    def ldapadd(self, target: Target, persons: Sequence[Person]
                ) -> tuple[Child, float | None, str]:
        folder = Path(tempfile.mkdtemp(prefix=f"ldapadd-{target.kind}-", dir=self.work))
        ldif = folder / "users.ldif"
        fd = os.open(ldif, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds passwords
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            write_ldif(target, persons, out)
        argv = ["ldapadd", "-c", "-H", target.url, "-x", "-D", target.bind_dn,
                "-y", str(self.bind_file(target)), "-f", str(ldif)]
        child = run_child(argv, env=self.ldap_env(target), stdout=folder / "out.txt",
                          stderr=folder / "err.txt")
        ldif.unlink()
        return child, None, ""

    # -- 3. Ansible -------------------------------------------------------------------------
    def ansible(self, target: Target, persons: Sequence[Person]
                ) -> tuple[Child, float | None, str]:
        folder = Path(tempfile.mkdtemp(prefix=f"ansible-{target.kind}-", dir=self.work))
        playbook = ansible_playbook_exe()
        if playbook is None:
            return Child(rc=127, seconds=0.0, maxrss_kib=0, cpu=0.0), None, "not installed"
        extra = private_file(folder / "vars.json", json.dumps(ansible_vars(target, persons)))
        home = folder / "home"
        env = {**os.environ, **ansible_env(home), "LDAPTLS_CACERT": target.ca_file,
               "BENCH_LDAP_BIND_PW": target.bind_password}
        argv = [str(playbook), "-i", "localhost,", str(PLAYBOOK), "-e", f"@{extra}"]
        child = run_child(argv, env=env, stdout=folder / "out.txt", stderr=folder / "err.txt",
                          tree=True)
        extra.unlink()
        if child.rc != 0:
            out = (folder / "out.txt").read_text(errors="replace").strip().splitlines()
            child.stderr_tail = "\n".join([*child.stderr_tail.splitlines(), *out[-8:]])
        return child, None, ""


def planned_after(journal: Path, started: float) -> float | None:
    """Seconds from the start of the process to its journal's run row, which the run
    service writes once the pre-flight has planned every row (None if there is none)."""
    import sqlite3
    from datetime import datetime

    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT time FROM entries WHERE kind = 'run' ORDER BY seq "
                             "LIMIT 1").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return datetime.fromisoformat(row[0]).timestamp() - started if row else None


def compile_adminkit() -> None:
    """adminkit's bytecode, as pip writes it on install (under PYTHONDONTWRITEBYTECODE
    each run would compile the package again, some 60 ms that no installed copy spends)."""
    import adminkit

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(adminkit.__file__).parent)],
                   stdout=subprocess.DEVNULL, check=False)


def ansible_env(home: Path) -> dict[str, str]:
    return {"ANSIBLE_HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_PIPELINING": "True", "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_HOST_KEY_CHECKING": "False"}


def adminkit_exe() -> Path:
    exe = Path(sys.executable).with_name("adminkit")
    if not exe.exists():
        raise SystemExit(f"no adminkit next to {sys.executable}: run this with .venv/bin/python")
    return exe


def ansible_playbook_exe() -> Path | None:
    exe = ANSIBLE_VENV / "bin" / "ansible-playbook"
    python = ANSIBLE_VENV / "bin" / "python"
    if not exe.exists() or not python.exists():
        return None
    probe = subprocess.run([str(python), "-c", "import ldap, ansible_collections.community"
                            ".general.plugins.modules.ldap_entry"], capture_output=True,
                           check=False)
    return exe if probe.returncode == 0 else None


def install_ansible() -> Path | None:
    """ansible (with community.general) and python-ldap into bench/.venv-ansible, once."""
    found = ansible_playbook_exe()
    if found:
        return found
    print("installing ansible + python-ldap into bench/.venv-ansible (once)…", file=sys.stderr)
    missing = [p for p in APT_BUILD_DEPS if subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", p], capture_output=True, text=True,
        check=False).stdout[:2] != "ii"]
    if missing:
        if os.geteuid() != 0:
            print(f"python-ldap needs: apt-get install {' '.join(missing)} (as root)",
                  file=sys.stderr)
            return None
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q",
               "--no-install-recommends", *missing]
        if subprocess.run(apt, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "-q", "update"], env=env, check=False)
            if subprocess.run(apt, env=env, check=False).returncode != 0:
                return None
    try:
        if not (ANSIBLE_VENV / "bin" / "pip").exists():
            subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", *ANSIBLE_PIP],
                       check=True)
    except subprocess.CalledProcessError:
        return None
    return ansible_playbook_exe()


# -- report ------------------------------------------------------------------------------
KINDS = ("ad", "openldap")
LABEL = {"ad": "AD", "openldap": "OpenLDAP"}


def summarise(results: list[Measurement]) -> dict[tuple[int, str, str], Measurement]:
    """One row per (users, directory, method): the median-rate round (rounds > 1)."""
    grouped: dict[tuple[int, str, str], list[Measurement]] = {}
    for m in results:
        grouped.setdefault((m.users, m.target.kind, m.method), []).append(m)
    order = sorted(grouped, key=lambda k: (k[0], KINDS.index(k[1]), METHODS.index(k[2])))
    return {key: sorted(grouped[key], key=lambda m: m.rate)[len(grouped[key]) // 2]
            for key in order}


def paired(results: list[Measurement], kind: str, users: int
           ) -> list[tuple[Measurement, Measurement]]:
    """(adminkit, ldapadd) per round of one size: the two ran back to back, under the same
    load."""
    by_round: dict[int, dict[str, Measurement]] = {}
    for m in results:
        if m.target.kind == kind and m.users == users:
            by_round.setdefault(m.round_no, {})[m.method] = m
    return [(r["adminkit"], r["ldapadd"]) for r in by_round.values()
            if "adminkit" in r and "ldapadd" in r and r["ldapadd"].rate]


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """The median, and the range of the rest: `1.02 (0.97-1.10, n=5)`."""
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return (f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))}, "
            f"n={len(values)})")


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "NOT met")


def goal_lines(results: list[Measurement]) -> list[str]:
    """Per size and directory: adminkit / ldapadd (median and spread of the paired rounds)
    and adminkit's peak RSS, each against its goal where the project set one."""
    lines = []
    for users in sorted({m.users for m in results if m.method == "adminkit"}):
        for kind in KINDS:
            pairs = paired(results, kind, users)
            mine = [m for m in results if m.method == "adminkit" and m.target.kind == kind
                    and m.users == users]
            if not mine:
                continue
            text = f"  {users:>6} {LABEL[kind]:<9}"
            if pairs:
                ratios = [a.rate / b.rate for a, b in pairs]
                goal = RATIO_GOALS.get((kind, users))
                text += f" adminkit/ldapadd {spread(ratios):<24}"
                text += (f" goal >= {goal:.2f} {verdict(statistics.median(ratios) >= goal):<8}"
                         if goal is not None else " " * 24)
            rss = [m.maxrss_kib / 1024 for m in mine]
            limit = RSS_GOALS_MIB.get(users)
            text += f"  peak RSS MiB {spread(rss, '{:.0f}')}"
            if limit is not None:
                text += f"  goal <= {limit:.0f} {verdict(max(rss) <= limit)}"
            lines.append(text.rstrip())
    return lines


def report(results: list[Measurement], timeline: list[tuple[str, float]], rounds: int) -> None:
    rows = summarise(results)
    head = (f"{'directory':<11} {'method':<9} {'users':>6} {'seconds':>8} {'users/s':>8} "
            f"{'×ldapadd':>8} {'peak RSS MiB':>12} {'client CPU s':>12} {'server CPU s':>12} "
            f"{'verified':>9}")
    print("\n" + head + "\n" + "-" * len(head))
    for (users, kind, method), m in rows.items():
        base = rows.get((users, kind, "ldapadd"))
        ratio = f"{m.rate / base.rate:.2f}" if base and base.rate else "-"
        print(f"{m.target.label:<11} {method:<9} {m.users:>6} {m.seconds:>8.1f} {m.rate:>8.1f} "
              f"{ratio:>8} {m.maxrss_kib / 1024:>12.1f} {m.client_cpu:>12.1f} "
              f"{m.server_cpu:>12.1f} {f'{m.verified}/{m.users}':>9}")
    if rounds > 1:
        print(f"(median-rate round of {rounds})")
    for (users, _kind, method), m in rows.items():
        extra = []
        if m.validate_s is not None:
            apply_s = m.seconds - m.validate_s
            extra.append(f"start + validation {m.validate_s:.2f} s, then writing {apply_s:.2f} s"
                         f" = {m.verified / apply_s if apply_s > 0 else 0:.0f} users/s")
        if m.note:
            extra.append(m.note)
        if extra:
            print(f"  {m.target.label} {method} ({users}): " + "; ".join(extra))
        for line in m.details:
            print(f"    ldap3 {line}")
    print("\ngoals (median of the paired rounds, with their range; absolute times vary 2-9x "
          "on this machine):")
    for line in goal_lines(results):
        print(line)
    for users in sorted({m.users for m in results if m.method == "adminkit"}):
        for kind in KINDS:
            ak, ref = rows.get((users, kind, "adminkit")), None
            ref = next((m for (_u, k, meth), m in rows.items()
                        if k == kind and meth == "ansible"), None)
            if ak and ref and ref.rate:
                times = ak.rate / ref.rate
                print(f"  {users:>6} {LABEL[kind]:<9} adminkit / Ansible = {times:5.1f}  "
                      f"(goal >= {GOAL_VS_ANSIBLE:.0f})  {verdict(times >= GOAL_VS_ANSIBLE)}")
    print("\ntime per part:")
    for what, seconds in timeline:
        print(f"  {what:<40} {seconds:7.1f} s")


def write_profiles(lab: Lab, config_dir: Path) -> None:
    """The lab's profiles for this run only, lab-openldap with a policy it can satisfy."""
    from adminkit.core import config

    for name, data in lab.profile_data().items():
        if name == "lab-openldap":
            data["policy"] = {**data.get("policy", {}), "protected_groups": [OPENLDAP_PROTECTED]}
        path = config.profile_path(name, config_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.dump_profile(data))


# -- main --------------------------------------------------------------------------------
def sizes_arg(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give numbers, e.g. 500,2000") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be >= 1")
    return sizes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=2000,
                        help="users per method (2000); one size, as --sizes N")
    parser.add_argument("--sizes", type=sizes_arg,
                        help="several sizes in one run, e.g. 500,2000,20000 (default: --users)")
    for kind in KINDS:
        parser.add_argument(f"--sizes-{kind}", type=sizes_arg, dest=f"sizes_{kind}",
                            help=f"{LABEL[kind]}'s own sizes (default: --sizes)")
    parser.add_argument("--ansible-users", type=int, default=200,
                        help="users for Ansible, whose rate is compared (200)")
    parser.add_argument("--only", choices=("ad", "openldap"), action="append",
                        help="one directory (repeat for both; default both)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument("--rounds", type=int, default=1, help="repeat; report the median")
    parser.add_argument("--retries", type=int, default=2,
                        help="measure again when the server was restarted meanwhile (2)")
    parser.add_argument("--count-ldap-ops", action="store_true",
                        help="count adminkit's LDAP operations by caller (bench/ldapops; "
                             "adds a little time per operation)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (CSV, reports; LDIF and vars are removed)")
    parser.add_argument("--warm", action="store_true",
                        help="adminkit's runs go through a warm process (`adminkit warm "
                             "start`, bench/warm_start.py); each is checked to have been "
                             "served warm, and the report says so")
    parser.add_argument("--no-final-reset", action="store_true",
                        help="leave the last method's users in the lab")
    parser.add_argument("--setup-only", action="store_true",
                        help="install the Ansible venv and exit")
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(args.methods) - set(METHODS)
    args.sizes = args.sizes or [args.users]
    for kind in KINDS:
        setattr(args, f"sizes_{kind}", getattr(args, f"sizes_{kind}") or args.sizes)
    if unknown or min(args.sizes) < 1 or args.rounds < 1:
        parser.error(f"bad --methods {sorted(unknown)}" if unknown else "counts must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.setup_only or "ansible" in args.methods:
        if install_ansible() is None:
            print("Ansible could not be installed: its rows are left out", file=sys.stderr)
            args.methods = [m for m in args.methods if m != "ansible"]
        if args.setup_only:
            return
    from adminkit.lab.lab import Lab

    kinds: list[str] = args.only or ["ad", "openldap"]
    work = Path(tempfile.mkdtemp(prefix="accounts-bulk-"))  # 0700
    config_dir = work / "config"
    lab = Lab(config_dir=config_dir)  # the lab's profiles, written for this run only
    bench = Bench(lab=lab, work=work, config_dir=config_dir, count_ops=args.count_ldap_ops)
    servers = ["samba" if k == "ad" else "slapd" for k in kinds]
    results: list[Measurement] = []
    started: list[str] = []
    warming = ExitStack()  # --warm: the warm process, stopped in `finally`
    try:
        with bench.part("lab up"):
            started = lab.up(servers)
            write_profiles(lab, config_dir)
        targets = [load_target(k, config_dir) for k in kinds]
        compile_adminkit()
        warm = None
        if args.warm:
            import warm_start  # bench/warm_start.py

            warm = warming.enter_context(warm_start.running(
                [str(adminkit_exe())], {**os.environ, "ADMINKIT_CONFIG": str(config_dir)},
                work))
            assert warm is not None
            bench.warm_env = warm.env
        # ldapadd and adminkit back to back per directory and size (their ratio is the
        # goal), smaller sizes first; the long Ansible runs last.
        sizes = sorted({n for k in kinds for n in getattr(args, f"sizes_{k}")})
        order = [(t, m, n) for n in sizes for t in targets
                 if n in getattr(args, f"sizes_{t.kind}")
                 for m in ("ldapadd", "adminkit") if m in args.methods]
        ansible = [(t, "ansible", args.ansible_users) for t in targets
                   if "ansible" in args.methods]
        for round_no in range(args.rounds):
            for target, method, count in order + ansible:
                for attempt in range(1 + args.retries):
                    print(f"{target.label}: {method}, {count} users"
                          + (f" (again, attempt {attempt + 1})" if attempt else "") + "…",
                          file=sys.stderr, flush=True)
                    measured = bench.measure(target, method, round_no, count)
                    if not measured.disturbed:
                        break
                results.append(measured)
        if warm is not None:
            warm.check(sum(1 for m in results if m.method == "adminkit"))
    finally:
        warming.close()  # the warm process stopped, if one was started
        if not args.no_final_reset:
            with bench.part("final reset"):
                lab.reset(servers)
        if started:
            lab.down(started)
        for secret in work.glob("*.bindpw"):
            secret.unlink()
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.warm:
        print("\nadminkit ran through a warm process (adminkit warm start): the figures "
              "below are warm; run without --warm for the cold ones. adminkit's peak RSS "
              "and client CPU are the thin client's (the forked child that does the work "
              "is not its child); the server CPU is the directory's, as cold")
    report(results, bench.timeline, args.rounds)


if __name__ == "__main__":
    main()
