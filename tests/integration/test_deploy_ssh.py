"""Deploy over SSH on the lab fleet: every outcome read back on the hosts (dpkg-query over
a separate login), on the journal, and on RT; hostile names, hung commands, re-keyed and
unknown hosts; the machine's own package state never touched (the hosts' /var, with
dpkg's database, is an overlay per host)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.journal.store import Filters, Journal
from adminkit.lab import base
from adminkit.lab.ssh import PACKAGE, SshFleet
from tests.childproc import as_at_a_terminal
from tests.integration.noted import by_pytest
from tests.integration.rtread import notes
from tests.integration.test_lab_ssh import installed, run

pytestmark = pytest.mark.integration
Cli = Callable[..., subprocess.CompletedProcess[str]]
HOSTILE_ARGS = ["it's; rm -rf / $(reboot)", "`id`", '"$HOME"', "a\nb", "*", "--", "|&&>x",
                "${IFS}", "é ü"]
SUDO_SECRET = "Sudo-Pw-7f3a91!never-in-argv"


@pytest.fixture(scope="module")
def fleet(ssh_fleet: base.LabServer) -> Iterator[SshFleet]:
    assert isinstance(ssh_fleet, SshFleet)
    ssh_fleet.reset()  # no package from an earlier test on any host
    yield ssh_fleet
    ssh_fleet.reset()  # and none from these for the next tests


def write_profile(config: Path, name: str, fleet: SshFleet, **inventory: Any) -> str:
    """A profile on the lab fleet (plus the lab's tickets section, if the lab has one)."""
    lab = yaml.safe_load((config / "profiles" / "lab.yaml").read_text())
    data = {"name": name, "inventory": {**fleet.profile()["inventory"], **inventory}}
    if "tickets" in lab:
        data["tickets"] = lab["tickets"]
    (config / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return name


@pytest.fixture(scope="module")
def profile(fleet: SshFleet, lab_config_dir: Path) -> str:
    return write_profile(lab_config_dir, "lab-deploy", fleet, run={
        "allow": True, "programs": ["printf", "uname", "sleep", "cat", "true"], "sudo": True})


def report(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert r.stdout, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def by_host(data: dict[str, Any]) -> dict[str, str]:
    return {res["target"]: res["status"] for res in data["results"]}


def versions(fleet: SshFleet) -> dict[str, str | None]:
    return {h.name: installed(fleet, h.address) for h in fleet.fleet[:3]}


def dpkg_status(fleet: SshFleet, address: str) -> str:
    with closing(fleet.connect(address)) as client:
        rc, out = run(client, ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", PACKAGE])
    return out.strip() if rc == 0 else ""  # "": dpkg knows nothing of it


def test_install_check_then_apply_then_nothing_to_do(fleet: SshFleet, profile: str,
                                                     cli: Cli) -> None:
    r = cli("-p", profile, "--check", "-o", "json", "app", "install", f"{PACKAGE}=1.0",
            "--hosts", "h1,h2")
    assert r.returncode == 0, r.stderr
    assert by_host(report(r)) == {"h1": "changed", "h2": "changed"}
    assert versions(fleet) == {"h1": None, "h2": None, "h3": None}  # check: nothing done

    r = cli("-p", profile, "-o", "json", "app", "install", f"{PACKAGE}=1.0", "--hosts", "h1,h2")
    assert r.returncode == 0, r.stderr
    data = report(r)
    assert by_host(data) == {"h1": "changed", "h2": "changed"}
    assert data["results"][0]["changes"][0] == {"op": "set", "field": PACKAGE,
                                                "before": None, "after": "1.0"}
    assert versions(fleet) == {"h1": "1.0", "h2": "1.0", "h3": None}
    with closing(fleet.connect(fleet.fleet[0].address)) as client:
        assert run(client, [PACKAGE]) == (0, f"{PACKAGE} 1.0\n")
    local = subprocess.run(["dpkg-query", "-W", PACKAGE], capture_output=True, check=False)
    assert local.returncode != 0, "the machine itself must not have the package"

    r = cli("-p", profile, "-o", "json", "app", "install", PACKAGE, "--hosts", "h1,h2")
    assert r.returncode == 0, r.stderr
    assert by_host(report(r)) == {"h1": "ok", "h2": "ok"}  # installed: left as it is
    journal = Journal(cli.journal)  # type: ignore[attr-defined]
    try:
        rows = journal.entries(Filters(kinds=("action",)))
    finally:
        journal.close()
    assert sorted(row["target"] for row in rows) == ["h1"] * 3 + ["h2"] * 3  # check too


def test_upgrade_only_where_installed_and_list(fleet: SshFleet, profile: str,
                                               cli: Cli) -> None:
    if versions(fleet)["h1"] is None:
        assert cli("-p", profile, "app", "install", f"{PACKAGE}=1.0", "--hosts",
                   "h1,h2").returncode == 0
    r = cli("-p", profile, "-o", "json", "app", "outdated", "--hosts", "all")
    assert r.returncode == 0, r.stderr
    assert {(x["host"], x["installed"], x["newest"]) for x in json.loads(r.stdout)
            if x.get("package") == PACKAGE} == {("h1", "1.0", "1.1"), ("h2", "1.0", "1.1")}

    r = cli("-p", profile, "-o", "json", "app", "upgrade", PACKAGE, "--hosts", "all")
    assert r.returncode == 0, r.stderr
    assert by_host(report(r)) == {"h1": "changed", "h2": "changed", "h3": "ok"}
    assert versions(fleet) == {"h1": "1.1", "h2": "1.1", "h3": None}

    r = cli("-p", profile, "-o", "json", "app", "list", "--hosts", "all", "--name", "adminkit*")
    assert r.returncode == 0, r.stderr
    assert [(x["host"], x["package"], x["version"]) for x in json.loads(r.stdout)] == [
        ("h1", PACKAGE, "1.1"), ("h2", PACKAGE, "1.1")]
    r = cli("-p", profile, "-o", "csv", "app", "list", "--hosts", "h1", "--name", "adminkit*")
    assert r.stdout.splitlines() == ["host,package,version,error", f"h1,{PACKAGE},1.1,"]


def test_remove_and_purge_read_back(fleet: SshFleet, profile: str, cli: Cli) -> None:
    assert cli("-p", profile, "app", "install", PACKAGE, "--hosts", "h1,h2").returncode == 0
    r = cli("-p", profile, "-o", "json", "app", "remove", PACKAGE, "--hosts", "h1")
    assert by_host(report(r)) == {"h1": "changed"}
    assert dpkg_status(fleet, fleet.fleet[0].address) == "rc"  # conffile kept
    r = cli("-p", profile, "-o", "json", "app", "remove", PACKAGE, "--purge", "--hosts", "h1,h2,h3")
    assert r.returncode == 0, r.stderr
    assert by_host(report(r)) == {"h1": "changed", "h2": "changed", "h3": "ok"}
    assert [dpkg_status(fleet, h.address) for h in fleet.fleet[:3]] == ["", "", ""]
    r = cli("-p", profile, "app", "remove", f"{PACKAGE}=1.0", "--hosts", "h1")
    assert r.returncode == 2, r.stdout + r.stderr


@pytest.mark.parametrize("name", ["foo; reboot", "$(id)", "`touch /tmp/pwned`", "-oAPT::x=1",
                                  f"{PACKAGE}=1.0;id", "Bad Name"])
def test_hostile_package_names_stop_before_any_host(fleet: SshFleet, profile: str, cli: Cli,
                                                    name: str) -> None:
    r = cli("-p", profile, "app", "install", "--hosts", "all", "--", name)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "is not a package" in r.stderr
    assert not Journal(cli.journal).entries(Filters(kinds=("run",)))  # type: ignore[attr-defined]


def test_a_name_only_apt_refuses_fails_on_each_host(profile: str, cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "app", "install", "Upper.Case", "--hosts", "h1")
    assert r.returncode == 2
    assert "not a Debian package name" in report(r)["results"][0]["error"]


def test_host_run_arguments_arrive_as_literals(profile: str, cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "host", "run", "--hosts", "h1,h2", "--",
            "printf", "%s\\0", *HOSTILE_ARGS)
    assert r.returncode == 0, r.stderr
    for result in report(r)["results"]:
        assert result["data"]["stdout"].split("\0")[:-1] == HOSTILE_ARGS


def test_host_run_is_refused_unless_the_profile_allows(fleet: SshFleet, cli: Cli,
                                                       lab_config_dir: Path,
                                                       profile: str) -> None:
    closed = write_profile(lab_config_dir, "lab-deploy-closed", fleet)
    r = cli("-p", closed, "host", "run", "--hosts", "h1", "--", "uname", "-r")
    assert r.returncode == 4, r.stdout + r.stderr
    r = cli("-p", profile, "host", "run", "--hosts", "h1", "--", "rm", "-rf", "/tmp/x")
    assert r.returncode == 4, r.stdout + r.stderr
    assert "not among the programs" in r.stdout


def host_pids(needle: list[str]) -> list[int]:
    """PIDs on this machine (it sees the hosts' PID namespaces) whose argv is `needle`."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        if [a.decode(errors="replace") for a in argv] == needle:
            found.append(int(entry))
    return found


def test_a_hung_command_ends_at_its_deadline_on_the_host(profile: str, cli: Cli) -> None:
    r = cli("-p", profile, "-o", "json", "host", "run", "--hosts", "h2", "--timeout", "2",
            "--sudo", "--", "sleep", "317")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "deadline" in report(r)["results"][0]["error"]
    deadline = time.monotonic() + 10
    while host_pids(["sleep", "317"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_pids(["sleep", "317"]) == []


def test_unknown_unreachable_and_rekeyed_hosts_fail_alone(fleet: SshFleet, cli: Cli,
                                                          lab_config_dir: Path, profile: str,
                                                          tmp_path: Path) -> None:
    h1, h2, h3 = fleet.fleet[:3]
    assert cli("-p", profile, "app", "remove", PACKAGE, "--purge", "--hosts",
               "all").returncode == 0
    lines = fleet.known_hosts.read_text().splitlines()
    h2_key = next(line.split()[1:] for line in lines if line.startswith(h2.address + " "))
    forged = tmp_path / "known_hosts"
    forged.write_text("\n".join(line for line in lines if not line.startswith(h3.address + " "))
                      + f"\n{h3.address} {' '.join(h2_key)}\n")  # h3's address, h2's key
    hosts = [*fleet.profile()["inventory"]["hosts"][:3],
             {"name": "ghost", "address": "127.0.1.250"}]
    name = write_profile(lab_config_dir, "lab-deploy-faults", fleet, hosts=hosts, ssh={
        **fleet.profile()["inventory"]["ssh"], "known_hosts": str(forged), "timeout": 3})

    r = cli("-p", name, "-o", "json", "host", "check", "--hosts", "all,nosuch")
    assert r.returncode == 3, r.stdout + r.stderr
    rows = {x["host"]: x for x in json.loads(r.stdout)}
    assert {k: v["status"] for k, v in rows.items()} == {
        "h1": "ok", "h2": "ok", "h3": "failed", "ghost": "failed", "nosuch": "failed"}
    assert "CHANGED" in rows["h3"]["detail"] and rows["h3"]["detail"].count("SHA256:") == 2
    assert "not in the inventory" in rows["nosuch"]["detail"]

    r = cli("-p", name, "-o", "json", "app", "install", PACKAGE, "--hosts", "all,nosuch")
    assert r.returncode == 3, r.stdout + r.stderr
    assert by_host(report(r)) == {"h1": "changed", "h2": "changed", "h3": "failed",
                                  "ghost": "failed", "nosuch": "failed"}
    assert installed(fleet, h1.address) is not None and installed(fleet, h3.address) is None


def test_resume_redoes_only_the_hosts_not_done(fleet: SshFleet, cli: Cli,
                                               lab_config_dir: Path) -> None:
    hosts = [*fleet.profile()["inventory"]["hosts"][:2], {"name": "h3", "address": "127.0.1.3",
                                                          "port": 2}]
    name = write_profile(lab_config_dir, "lab-deploy-resume", fleet, hosts=hosts)
    r = cli("-p", name, "-o", "json", "app", "remove", PACKAGE, "--purge", "--hosts", "all")
    assert r.returncode == 3, r.stdout + r.stderr
    first = report(r)
    assert by_host(first)["h3"] == "failed"
    write_profile(lab_config_dir, name, fleet)  # h3 reachable again
    r = cli("-p", name, "-o", "json", "run", "--resume", first["run"]["id"])
    assert r.returncode == 0, r.stdout + r.stderr
    again = report(r)
    summaries = {x["target"]: x["summary"] for x in again["results"]}
    assert summaries["h1"].endswith("(done earlier)") and summaries["h2"].endswith(
        "(done earlier)")
    assert "(done earlier)" not in summaries["h3"]


def test_through_a_jump_host(fleet: SshFleet, cli: Cli, lab_config_dir: Path) -> None:
    name = write_profile(lab_config_dir, "lab-deploy-jump", fleet, ssh={
        **fleet.profile()["inventory"]["ssh"], "jump_host": "h1"})
    r = cli("-p", name, "-o", "json", "host", "facts", "--hosts", "h2,h3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [(x["host"], x["package_manager"]) for x in json.loads(r.stdout)] == [
        ("h2", "apt"), ("h3", "apt")]


@contextlib.contextmanager
def argv_watch(secret: str) -> Iterator[list[str]]:
    """PIDs on this machine (it sees the fleet's PID namespaces) that had `secret`
    in their argv at any moment while the block ran; AK_TEST_SUDO is unset after it."""
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for entry in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if secret.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                        seen.append(entry)
                except OSError:
                    continue

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield seen
    finally:
        os.environ.pop("AK_TEST_SUDO", None)
        stop.set()
        watcher.join()


def test_the_sudo_password_goes_on_stdin_only(fleet: SshFleet, cli: Cli,
                                              lab_config_dir: Path) -> None:
    """The lab's sudo is NOPASSWD, so sudo leaves the password unread: the command must
    not get it on its stdin either; and no process on the machine (it sees the fleet's
    PID namespaces) has it in its argv at any moment."""
    name = write_profile(lab_config_dir, "lab-deploy-sudo", fleet,
                         ssh={**fleet.profile()["inventory"]["ssh"],
                              "sudo_password": "env:AK_TEST_SUDO"},
                         run={"allow": True, "programs": ["cat", "sleep"], "sudo": True})
    with argv_watch(SUDO_SECRET) as seen:
        os.environ["AK_TEST_SUDO"] = SUDO_SECRET
        r = cli("-p", name, "-o", "json", "host", "run", "--sudo", "--hosts", "h1,h2", "--",
                "cat")
        slow = cli("-p", name, "host", "run", "--sudo", "--hosts", "h1", "--", "sleep", "1")
    assert r.returncode == 0 and slow.returncode == 0, r.stdout + r.stderr + slow.stderr
    assert [x["data"]["stdout"] for x in report(r)["results"]] == ["", ""]
    assert seen == []
    assert SUDO_SECRET not in r.stdout + r.stderr
    assert SUDO_SECRET.encode() not in Path(cli.journal).read_bytes()  # type: ignore[attr-defined]


def test_a_note_per_host_on_the_rt_ticket(fleet: SshFleet, profile: str, cli: Cli,
                                          rt: Any) -> None:
    ticket = rt.new_ticket("Please install the demo app on h1 and h2")
    r = cli("-p", profile, "--ticket", str(ticket), "-o", "json", "app", "install",
            f"{PACKAGE}=1.1", "--hosts", "h1,h2")
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = report(r)["run"]["id"]
    texts = sorted(n.text for n in notes(rt, ticket))
    assert len(texts) == 2
    for host, text in zip(("h1", "h2"), texts, strict=True):
        assert text.startswith(f"adminkit:{run_id}:")
        assert f"app.install {host} by {by_pytest()} " in text
        assert f"{PACKAGE}" in text and "1.1" in text
    assert versions(fleet)["h1"] == "1.1" and versions(fleet)["h2"] == "1.1"


def test_host_patch_upgrades_what_is_pending(fleet: SshFleet, profile: str, cli: Cli) -> None:
    assert cli("-p", profile, "app", "remove", PACKAGE, "--purge", "--hosts",
               "all").returncode == 0
    assert cli("-p", profile, "app", "install", f"{PACKAGE}=1.0", "--hosts", "h1").returncode == 0
    r = cli("-p", profile, "-o", "json", "host", "patch", "--security-only", "--hosts", "h1")
    assert r.returncode == 0, r.stderr
    assert by_host(report(r)) == {"h1": "ok"}  # the lab's source is no security source
    r = cli("-p", profile, "-o", "json", "host", "patch", "--hosts", "h1,h2")
    assert r.returncode == 0, r.stderr
    data = report(r)
    assert by_host(data) == {"h1": "changed", "h2": "ok"}
    assert data["results"][0]["data"]["versions"] == {PACKAGE: "1.1"}
    assert versions(fleet) == {"h1": "1.1", "h2": None, "h3": None}


def test_the_four_playbooks_on_the_fleet(fleet: SshFleet, profile: str, cli: Cli) -> None:
    assert cli("-p", profile, "app", "remove", PACKAGE, "--purge", "--hosts",
               "all").returncode == 0
    r = cli("-p", profile, "-o", "json", "run", "install-app", "-i", "hosts=h1,h2",
            "-i", f"packages={PACKAGE}=1.0")
    assert r.returncode == 0, r.stdout + r.stderr
    assert versions(fleet) == {"h1": "1.0", "h2": "1.0", "h3": None}
    r = cli("-p", profile, "-o", "json", "run", "upgrade-app", "-i", "hosts=h1,h3",
            "-i", f"packages={PACKAGE}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert by_host(report(r)) == {"h1": "changed", "h3": "ok"}
    assert versions(fleet) == {"h1": "1.1", "h2": "1.0", "h3": None}
    r = cli("-p", profile, "run", "patch-hosts", "-i", "hosts=h1,h2,h3")
    assert r.returncode == 4, r.stdout + r.stderr  # policy: needs an approver
    r = cli("-p", profile, "-o", "json", "run", "patch-hosts", "-i", "hosts=h1,h2,h3",
            "--approved-by", "lead")
    assert r.returncode == 0, r.stdout + r.stderr
    assert by_host(report(r)) == {"h1": "ok", "h2": "changed", "h3": "ok"}
    assert versions(fleet) == {"h1": "1.1", "h2": "1.1", "h3": None}
    r = cli("-p", profile, "-o", "json", "run", "uninstall-app", "-i", "hosts=h1,h2",
            "-i", f"packages={PACKAGE}", "-i", "purge=true")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [dpkg_status(fleet, h.address) for h in fleet.fleet[:3]] == ["", "", ""]


@pytest.fixture
def password_user(fleet: SshFleet) -> Iterator[str]:
    """On h1 only (its overlay; the fixture's reset forgets it): `akpw`, whose sudo asks
    for a password, logging in with the lab's key."""
    user = "akpw"
    with closing(fleet.connect(fleet.fleet[0].address)) as client:
        rc, out = run(client, ["useradd", "-m", "-s", "/bin/bash", user], sudo=True)
        assert rc in (0, 9), out  # 9: there from an earlier test
        stdin, stdout, _ = client.exec_command("sudo -n chpasswd", timeout=30)
        stdin.write(f"{user}:{SUDO_SECRET}\n")
        stdin.channel.shutdown_write()
        assert stdout.channel.recv_exit_status() == 0
        rc, out = run(client, ["sh", "-c", f"echo '{user} ALL=(root) ALL' > /etc/sudoers.d/{user}"
                               f" && chmod 0440 /etc/sudoers.d/{user}"], sudo=True)
        assert rc == 0, out
    authorized = fleet.authorized / user
    authorized.write_text(fleet.key_file.with_suffix(".pub").read_text())
    authorized.chmod(0o644)
    try:
        yield user
    finally:
        authorized.unlink()


def test_sudo_asks_for_a_password_and_gets_it_on_stdin(fleet: SshFleet, cli: Cli,
                                                       lab_config_dir: Path,
                                                       password_user: str) -> None:
    h1 = fleet.profile()["inventory"]["hosts"][0]
    name = write_profile(lab_config_dir, "lab-deploy-sudopw", fleet,
                         hosts=[{**h1, "user": password_user}],
                         ssh={**fleet.profile()["inventory"]["ssh"],
                              "sudo_password": "env:AK_TEST_SUDO"},
                         run={"allow": True, "programs": ["id", "sleep"], "sudo": True})
    with argv_watch(SUDO_SECRET) as seen:
        os.environ["AK_TEST_SUDO"] = SUDO_SECRET
        ok = cli("-p", name, "-o", "json", "host", "run", "--sudo", "--hosts", "h1", "--",
                 "id", "-u")
        slow = cli("-p", name, "host", "run", "--sudo", "--hosts", "h1", "--", "sleep", "1")
        os.environ["AK_TEST_SUDO"] = "not-the-password"
        wrong = cli("-p", name, "-o", "json", "host", "run", "--sudo", "--hosts", "h1", "--",
                    "id", "-u")
        plain = cli("-p", name, "-o", "json", "host", "run", "--hosts", "h1", "--", "id", "-u")
    assert ok.returncode == 0 and slow.returncode == 0, ok.stdout + ok.stderr + slow.stderr
    assert report(ok)["results"][0]["data"]["stdout"] == "0\n"  # root, through the password
    assert report(plain)["results"][0]["data"]["stdout"] != "0\n"
    assert wrong.returncode == 1
    assert "sudo refused" in report(wrong)["results"][0]["error"]
    assert seen == []
    for r in (ok, slow, wrong):
        assert SUDO_SECRET not in r.stdout + r.stderr
    assert SUDO_SECRET.encode() not in Path(cli.journal).read_bytes()  # type: ignore[attr-defined]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_ends_the_running_commands_on_the_hosts(profile: str, cli: Cli,
                                                       signum: signal.Signals) -> None:
    """SIGTERM (kill, timeout, systemd) and SIGHUP (the terminal closed) as Ctrl-C: they
    killed adminkit at once and left the sleeps running on the hosts till the deadline."""
    argv = [*cli.argv, "-p", profile, "host", "run", "--hosts", "h1,h2", "--",  # type: ignore[attr-defined]
            "sleep", "291"]
    proc = subprocess.Popen(argv, env={**os.environ, **cli.env},  # type: ignore[attr-defined]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_at_a_terminal)
    try:
        deadline = time.monotonic() + 60
        while len(host_pids(["sleep", "291"])) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sleeps never started on both hosts"
            time.sleep(0.05)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    deadline = time.monotonic() + 10
    while host_pids(["sleep", "291"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_pids(["sleep", "291"]) == []
    journal = Journal(cli.journal)  # type: ignore[attr-defined]
    try:
        [end] = journal.entries(Filters(kinds=("end",)))
    finally:
        journal.close()
    assert end["status"] == "interrupted"


RPM_SPEC = """Name: {name}
Version: {version}
Release: 1
Summary: adminkit test package
License: MIT
BuildArch: noarch
AutoReqProv: no

%description
adminkit test package

%install
mkdir -p %{{buildroot}}/usr/bin
printf '#!/bin/sh\\necho "{name} {version}"\\n' > %{{buildroot}}/usr/bin/{name}
chmod 755 %{{buildroot}}/usr/bin/{name}

%files
/usr/bin/{name}
"""


@pytest.fixture
def dnf_host(fleet: SshFleet, tmp_path: Path) -> Iterator[str]:
    """h3 as a dnf host: the test package 1.0-1 and 1.1-1 built with rpmbuild into an RPM
    repository (createrepo_c) in the lab folder, which h3 sees at /run/adminkit-lab-ssh;
    a dnf repo file and releasever there (Debian's dnf cannot tell its release). dnf and
    rpm keep their state under h3's /var and /root overlays (rpm's database on Debian is
    per user: root's is /root/.rpmdb)."""
    repo = fleet.dir / "rpmrepo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir()
    for version in ("1.0", "1.1"):
        spec = tmp_path / f"{version}.spec"
        spec.write_text(RPM_SPEC.format(name=PACKAGE, version=version))
        subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {tmp_path / 'top'}", str(spec)],
                       check=True, capture_output=True)
    for rpm in (tmp_path / "top" / "RPMS" / "noarch").glob("*.rpm"):
        shutil.copy(rpm, repo)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True, capture_output=True)
    for path in [repo, *repo.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    repo_file = ("[adminkit-lab]\nname=adminkit lab\nbaseurl=file:///run/adminkit-lab-ssh/"
                 "rpmrepo\ngpgcheck=0\nenabled=1\n")
    with closing(fleet.connect(fleet.fleet[2].address)) as client:
        rc, out = run(client, ["sh", "-c", "mkdir -p /etc/yum.repos.d /etc/dnf/vars && "
                               "echo 12 > /etc/dnf/vars/releasever && "
                               'printf %s "$0" > /etc/yum.repos.d/adminkit-lab.repo', repo_file],
                      sudo=True)
        assert rc == 0, out
    try:
        yield fleet.fleet[2].name
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def rpm_version(fleet: SshFleet, address: str) -> str | None:
    with closing(fleet.connect(address)) as client:
        rc, out = run(client, ["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", PACKAGE], sudo=True)
    return out.strip() if rc == 0 else None


def test_dnf_on_a_host_that_has_it(fleet: SshFleet, cli: Cli, lab_config_dir: Path,
                                   dnf_host: str) -> None:
    hosts = fleet.profile()["inventory"]["hosts"]
    hosts = [{**h, "vars": {"package_manager": "dnf"}} if h["name"] == dnf_host else h
             for h in hosts]
    name = write_profile(lab_config_dir, "lab-deploy-dnf", fleet, hosts=hosts)
    h3 = fleet.fleet[2].address
    r = cli("-p", name, "app", "install", f"{PACKAGE}=1.0", "--hosts", dnf_host)
    assert r.returncode == 2 and "VERSION-RELEASE" in r.stdout, r.stdout + r.stderr
    r = cli("-p", name, "-o", "json", "--check", "app", "install", f"{PACKAGE}=1.0-1",
            "--hosts", dnf_host)
    assert by_host(report(r)) == {dnf_host: "changed"} and rpm_version(fleet, h3) is None
    r = cli("-p", name, "-o", "json", "app", "install", f"{PACKAGE}=1.0-1", "--hosts", dnf_host)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rpm_version(fleet, h3) == "1.0-1"
    assert installed(fleet, h3) is None  # dpkg knows nothing of it
    r = cli("-p", name, "-o", "json", "app", "install", PACKAGE, "--hosts", dnf_host)
    assert by_host(report(r)) == {dnf_host: "ok"}
    r = cli("-p", name, "-o", "json", "app", "outdated", "--hosts", dnf_host)
    assert [(x["package"], x["installed"], x["newest"]) for x in json.loads(r.stdout)] == [
        (PACKAGE, "1.0-1", "1.1-1")]
    r = cli("-p", name, "-o", "json", "app", "upgrade", PACKAGE, "--hosts", dnf_host)
    assert by_host(report(r)) == {dnf_host: "changed"} and rpm_version(fleet, h3) == "1.1-1"
    r = cli("-p", name, "-o", "json", "app", "list", "--hosts", dnf_host, "--name", "adminkit*")
    assert [(x["package"], x["version"]) for x in json.loads(r.stdout)] == [(PACKAGE, "1.1-1")]
    r = cli("-p", name, "-o", "json", "app", "remove", PACKAGE, "--hosts", dnf_host)
    assert by_host(report(r)) == {dnf_host: "changed"} and rpm_version(fleet, h3) is None
