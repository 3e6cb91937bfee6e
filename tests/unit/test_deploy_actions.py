"""The deploy actions' plans against an in-memory host backend: idempotence, upgrades
only where installed, purge of leftovers, patch, one connection per host per run, and a
host that cannot be reached failing alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adminkit.core.action import Action
from adminkit.core.config import Profile
from adminkit.core.context import Context
from adminkit.core.result import Status
from adminkit.core.run import Run
from adminkit.core.runner import Runner, RunReport
from adminkit.deploy import backend
from adminkit.deploy.actions import ACTIONS
from tests.unit import deployfake


@pytest.fixture(autouse=True)
def fake_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(backend.BUILT_IN, "ssh", "tests.unit.deployfake:open_fake")
    deployfake.HOSTS.clear()
    yield
    deployfake.HOSTS.clear()


PROFILE = Profile.of(name="fleet", inventory={
    "ssh": {"user": "ops", "known_hosts": "/dev/null"},
    "run": {"allow": True, "programs": ["echo"]},
    "hosts": [{"name": f"h{n}", "address": f"192.0.2.{n}"} for n in range(1, 5)]
    + [{"name": "down1", "address": "192.0.2.99"}]})


def run(name: str, hosts: list[str], check: bool = False, **params: Any) -> RunReport:
    cls = ACTIONS[name]
    actions: list[Action[Any]] = [cls(cls.params_model(host=h, **params)) for h in hosts]
    ctx = Context(run=Run(command=name, check=check), profile=PROFILE)
    try:
        return Runner(ctx).execute(actions, workers=4)
    finally:
        ctx.close()


def statuses(report: RunReport) -> dict[str, str]:
    return {r.target: r.status.value for r in report.results}


def test_install_plans_then_is_idempotent_and_check_changes_nothing() -> None:
    report = run("app.install", ["h1", "h2"], check=True, packages=["demo=1.0"])
    assert statuses(report) == {"h1": "changed", "h2": "changed"}
    assert deployfake.HOSTS["h1"].installed == {}
    report = run("app.install", ["h1", "h2"], packages=["demo=1.0", "tool"])
    assert statuses(report) == {"h1": "changed", "h2": "changed"}
    assert report.results[0].data["versions"] == {"demo": "1.0", "tool": "2.0"}
    assert statuses(run("app.install", ["h1"], packages=["demo"])) == {"h1": "ok"}
    assert statuses(run("app.install", ["h1"], packages=["demo=1.1"])) == {"h1": "changed"}


def test_an_unknown_package_or_version_fails_that_host() -> None:
    report = run("app.install", ["h1"], packages=["nosuch"])
    assert report.results[0].status is Status.FAILED and report.exit_code == 2
    report = run("app.install", ["h1"], packages=["demo=9.9"])
    assert "not offered (offered: 1.0, 1.1)" in (report.results[0].error or "")


def test_upgrade_only_where_installed() -> None:
    run("app.install", ["h1"], packages=["demo=1.0"])
    report = run("app.upgrade", ["h1", "h2"], packages=["demo"])
    assert statuses(report) == {"h1": "changed", "h2": "ok"}
    assert "not installed: demo" in report.results[1].summary
    assert deployfake.HOSTS["h1"].installed == {"demo": "1.1"}
    assert "h2" not in deployfake.HOSTS or deployfake.HOSTS["h2"].installed == {}


def test_remove_then_purge_takes_the_leftovers() -> None:
    run("app.install", ["h1"], packages=["demo"])
    assert statuses(run("app.remove", ["h1"], packages=["demo"])) == {"h1": "changed"}
    assert statuses(run("app.remove", ["h1"], packages=["demo"])) == {"h1": "ok"}
    assert statuses(run("app.remove", ["h1"], packages=["demo"], purge=True)) == {
        "h1": "changed"}
    assert deployfake.HOSTS["h1"].leftovers == set()


def test_patch_installs_every_pending_update() -> None:
    run("app.install", ["h1", "h2"], packages=["demo=1.0"])
    report = run("host.patch", ["h1", "h2", "h3"])
    assert statuses(report) == {"h1": "changed", "h2": "changed", "h3": "ok"}
    assert [c.line() for c in report.results[0].changes] == ["demo: 1.0 -> 1.1"]


def test_an_unreachable_host_fails_alone_with_exit_3() -> None:
    report = run("app.install", ["h1", "down1", "h2"], packages=["demo"])
    assert statuses(report) == {"h1": "changed", "down1": "failed", "h2": "changed"}
    assert report.exit_code == 3 and "Connection refused" in (report.results[1].error or "")


def test_one_connection_per_host_for_plan_and_apply() -> None:
    run("app.install", ["h1", "h2", "h3", "h4"], packages=["demo", "tool"])
    assert {n: h.opened for n, h in deployfake.HOSTS.items()} == {
        "h1": 1, "h2": 1, "h3": 1, "h4": 1}


def test_host_run_needs_the_profile_to_allow_the_program() -> None:
    report = run("host.run", ["h1"], argv=["echo", "hi; there"])
    assert report.results[0].data["stdout"] == "echo hi; there\n"
    report = run("host.run", ["h1"], argv=["rm", "-rf", "/"])
    assert report.exit_code == 4


def test_hostile_parameters_never_build_an_action() -> None:
    cls = ACTIONS["app.install"]
    for bad in (["foo; reboot"], ["$(id)"], ["demo=1.0 && id"]):
        with pytest.raises(ValueError, match="is not a package"):
            cls.params_model(host="h1", packages=bad)
    with pytest.raises(ValueError, match="at least 1 item"):
        cls.params_model(host="h1", packages=[])
    with pytest.raises(ValueError, match="not a host name"):
        cls.params_model(host="h*", packages=["demo"])


def test_a_backend_that_reads_nothing_back_is_asked_afterwards(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployfake.FakeBackend, "_outcome",
                        lambda self, names: deployfake.PackageOutcome())
    report = run("app.install", ["h1"], packages=["demo=1.0"])
    assert report.results[0].data["versions"] == {"demo": "1.0"}
    monkeypatch.setattr(deployfake.FakeBackend, "install",
                        lambda self, specs: deployfake.PackageOutcome())  # says yes, does nothing
    report = run("app.install", ["h2"], packages=["demo"])
    assert report.exit_code == 1 and "said yes, but demo is not installed" in (
        report.results[0].error or "")


def test_check_mode_runs_nothing_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[Any] = []
    monkeypatch.setattr(deployfake.FakeBackend, "run",
                        lambda self, argv, **kw: ran.append(argv))
    report = run("host.run", ["h1", "h2"], check=True, argv=["echo", "hi"])
    assert statuses(report) == {"h1": "changed", "h2": "changed"} and ran == []
    assert report.results[0].summary == "would run echo hi on h1"
    run("app.install", ["h1"], packages=["demo=1.0"])
    assert statuses(run("host.patch", ["h1"], check=True)) == {"h1": "changed"}
    assert deployfake.HOSTS["h1"].installed == {"demo": "1.0"}
