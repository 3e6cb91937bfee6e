"""Fleet work over SSH: adminkit against Ansible (and a plain paramiko pool) on N lab hosts.

A fleet of its own (default 50 hosts on 127.0.9.N, under the lab folder's `bench/`, so
the shared lab's fleet on 127.0.1.N is left alone) is started, used and stopped. Each
task runs as the real commands, in paired rounds (the order alternates), and the table
shows each one's median and spread (min-max) and the median of the paired ratios:

- run:     `adminkit host run -- uname -r`  vs  `ansible all -m command -a 'uname -r'`,
           also against a plain paramiko thread pool (a process doing only that), the
           slowest single host (login + command, one host at a time, over the socket
           adminkit logs in over: no Nagle, quick ACKs), the
           floor: ceil(hosts / forks) waves of that slowest host;
           and the CPU floor: that pool's CPU and the hosts' (sshd, sessions, the
           command), over this machine's cores (50 logins cost more CPU than a wave);
- sleep:   the same with `sleep 1` (where the floor is mostly the command's own time);
- install: `adminkit app install adminkit-demo-app=1.0`  vs  `ansible.builtin.apt` with
           the same name and version, and vs the bare `apt-get install` through the
           paramiko pool (apt's own work: the floor of both); the package is purged from
           every host, untimed, before each measurement; the package lists are fresh;
- list:    `adminkit app list -o json`  vs  `ansible all -m package_facts`.

Both get the same forks (`--forks`, 20), strict host keys, the same key and sudo
(NOPASSWD). With `--warm`, each adminkit task also runs through a warm process
(`adminkit warm start`, bench/warm_start.py) as "adminkit warm", in the same rounds,
its ratios printed apart from the cold ones (every warm run is checked to have been
served warm). adminkit's bytecode is compiled first and its processes run without
PYTHONDONTWRITEBYTECODE, as an installed package runs. Ansible runs with pipelining
on and a fresh ControlPath folder each time (cold: adminkit keeps no connection
between processes either). Ansible-core is installed into its own venv
(`--ansible-venv`) if missing. adminkit's peak RSS is the
process's ru_maxrss. A benchmark reports; it asserts nothing. It touches no shared lab
server (its fleet is its own), so it needs no lab lock; run it as root (namespaces).

    .venv/bin/python bench/deploy_fleet.py --rounds 3
    .venv/bin/python bench/deploy_fleet.py --hosts 10 --rounds 1 --tasks run   # quick
    .venv/bin/python bench/deploy_fleet.py --rounds 3 --tasks run,install --warm
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

import adminkit as adminkit_pkg
from adminkit.deploy import tcp
from adminkit.lab.lab import Lab
from adminkit.lab.ssh import PACKAGE, PORT, USER, SshFleet

HERE = Path(__file__).resolve().parent
SUBNET = "127.0.9"  # a /24 no lab server uses (the WinRM fake is on 127.0.2.N)


def adminkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "adminkit.cli.main", *args]


def ensure_ansible(venv: Path) -> Path:
    exe = venv / "bin" / "ansible"
    if not exe.exists():
        print(f"installing ansible-core into {venv} (once)…", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "ansible-core"], check=True)
    return exe


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.fleet = SshFleet(Lab().dir / "bench", hosts=args.hosts, subnet=SUBNET)
        self.ansible = ensure_ansible(Path(args.ansible_venv)) if args.ansible else None
        config = work / "config"
        (config / "profiles").mkdir(parents=True)
        inventory = self.fleet.profile()["inventory"]
        inventory.update(forks=args.forks, run={"allow": True, "programs": ["uname", "sleep"]})
        (config / "profiles" / "bench.yaml").write_text(
            yaml.safe_dump({"name": "bench", "inventory": inventory}))
        self.env = {**os.environ, "ADMINKIT_CONFIG": str(config),
                    "ADMINKIT_JOURNAL": str(work / "journal.db"),
                    "ADMINKIT_JOURNAL_KEY": f"file:{work / 'journal.key'}",
                    "ADMINKIT_SYSLOG": "off", "ADMINKIT_OPERATOR": "bench"}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # run as installed: from bytecode
        compileall.compile_dir(str(Path(adminkit_pkg.__file__).parent), quiet=1)
        self.warm_env: dict[str, str] | None = None
        self.inventory_file = work / "hosts.ini"
        lines = ["[fleet]"] + [f"{h.name} ansible_host={h.address}" for h in self.fleet.fleet]
        lines += ["[fleet:vars]", f"ansible_user={USER}",
                  f"ansible_ssh_private_key_file={self.fleet.key_file}",
                  "ansible_python_interpreter=/usr/bin/python3",
                  f"ansible_ssh_common_args='-o UserKnownHostsFile={self.fleet.known_hosts} "
                  "-o StrictHostKeyChecking=yes'"]
        self.inventory_file.write_text("\n".join(lines) + "\n")
        self.peak_rss: list[float] = []

    # -- running --------------------------------------------------------------------------
    def timed(self, argv: list[str], env: dict[str, str], *, rss: bool = False) -> float:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv[:6])}… exited {proc.returncode}:\n"
                             f"{out.decode()[-1500:]}\n{err.decode()[-1500:]}")
        if rss:
            import resource

            # the largest child so far; adminkit's runs are the only large children
            self.peak_rss.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        return seconds

    def adminkit_run(self, *args: str) -> float:
        return self.timed(adminkit("-p", "bench", "-o", "json", *args), self.env, rss=True)

    def warm_run(self, *args: str) -> float:
        assert self.warm_env is not None
        return self.timed(adminkit("-p", "bench", "-o", "json", *args), self.warm_env)

    def ansible_run(self, *args: str) -> float:
        assert self.ansible is not None
        home = Path(tempfile.mkdtemp(dir=self.work))
        env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_PIPELINING": "True",
               "ANSIBLE_SSH_CONTROL_PATH_DIR": str(home / "cp"), "ANSIBLE_LOCAL_TEMP":
               str(home / "tmp"), "ANSIBLE_NOCOLOR": "1", "HOME": str(home),
               "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3"}
        try:
            return self.timed([str(self.ansible), "-i", str(self.inventory_file), "all",
                               "-f", str(self.args.forks), *args], env)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def pool_run(self, *command: str) -> float:
        return self.timed([sys.executable, __file__, "--pool-only", "--hosts",
                           str(self.args.hosts), "--forks", str(self.args.forks), "--",
                           *command],
                          self.env)

    def slowest_host(self, command: str = "uname -r") -> float:
        """Login + the command, one host at a time: the slowest of them."""
        return max(_login_and_run(self.fleet, h.address, command) for h in self.fleet.fleet)

    def floor(self, command: str) -> float:
        """The physical floor with `forks` at once: that many waves of the slowest host."""
        return math.ceil(self.args.hosts / self.args.forks) * self.slowest_host(command)

    def cpu_floor(self, command: str = "uname -r") -> float:
        """The floor set by CPU: the paramiko pool's run, its own CPU and every fleet
        host's (sshd, the sessions, the command), over this machine's cores."""
        before = _fleet_cpu(self.fleet)
        pool = subprocess.run([sys.executable, __file__, "--pool-only", "--hosts",
                               str(self.args.hosts), "--forks", str(self.args.forks), "--",
                               *shlex.split(command)], env=self.env, capture_output=True,
                              text=True, check=True)
        time.sleep(0.3)  # the hosts' session processes reaped
        client = float(pool.stdout.split()[-1])  # the logins' CPU, not Python's start
        return (client + _fleet_cpu(self.fleet) - before) / (os.cpu_count() or 1)

    def purge(self) -> None:
        self.timed(adminkit("-p", "bench", "app", "remove", PACKAGE, "--purge", "--hosts",
                            "all", "--force"), self.env)  # every bench host: beyond the limit

    def installed_everywhere(self) -> bool:
        r = subprocess.run(adminkit("-p", "bench", "-o", "json", "app", "list", "--hosts", "all",
                                    "--name", PACKAGE), env=self.env, capture_output=True,
                           text=True, check=False)
        rows = json.loads(r.stdout)
        return sorted(x["host"] for x in rows if x["version"] == "1.0") == sorted(
            h.name for h in self.fleet.fleet)

    # -- tasks ----------------------------------------------------------------------------
    def tasks(self) -> dict[str, dict[str, Callable[[], float]]]:
        tasks: dict[str, dict[str, Callable[[], float]]] = {
            "run": {"adminkit": lambda: self.adminkit_run("host", "run", "--hosts", "all",
                                                          "--", "uname", "-r"),
                    "paramiko pool": lambda: self.pool_run("uname", "-r"),
                    "slowest host": self.slowest_host,
                    "floor": lambda: self.floor("uname -r"),
                    "cpu floor": self.cpu_floor},
            "sleep": {"adminkit": lambda: self.adminkit_run("host", "run", "--hosts", "all",
                                                            "--", "sleep", "1"),
                      "paramiko pool": lambda: self.pool_run("sleep", "1"),
                      "floor": lambda: self.floor("sleep 1")},
            "install": {"adminkit": lambda: self._install(lambda: self.adminkit_run(
                "app", "install", f"{PACKAGE}=1.0", "--hosts", "all")),
                        "apt-get pool": lambda: self._install(lambda: self.pool_run(
                            "sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get",
                            "-q", "-y", "install", f"{PACKAGE}=1.0"))},
            "list": {"adminkit": lambda: self.adminkit_run("app", "list", "--hosts", "all")},
        }
        if self.args.warm:
            tasks["run"]["adminkit warm"] = lambda: self.warm_run(
                "host", "run", "--hosts", "all", "--", "uname", "-r")
            tasks["install"]["adminkit warm"] = lambda: self._install(lambda: self.warm_run(
                "app", "install", f"{PACKAGE}=1.0", "--hosts", "all"))
            tasks["list"]["adminkit warm"] = lambda: self.warm_run("app", "list", "--hosts",
                                                                   "all")
        if self.ansible is not None:
            tasks["run"]["ansible"] = lambda: self.ansible_run("-m", "command", "-a", "uname -r")
            tasks["sleep"]["ansible"] = lambda: self.ansible_run("-m", "command", "-a", "sleep 1")
            tasks["install"]["ansible"] = lambda: self._install(lambda: self.ansible_run(
                "-b", "-m", "ansible.builtin.apt", "-a", f"name={PACKAGE}=1.0 state=present"))
            tasks["list"]["ansible"] = lambda: self.ansible_run("-m", "package_facts")
        return {k: v for k, v in tasks.items() if k in self.args.tasks.split(",")}

    def _install(self, measure: Callable[[], float]) -> float:
        self.purge()
        seconds = measure()
        if not self.installed_everywhere():
            raise SystemExit("the install did not land on every host")
        return seconds

    def main(self) -> None:
        fleet = self.fleet
        try:
            with fleet.running(timeout=180):
                self.timed(adminkit("-p", "bench", "app", "outdated", "--hosts", "all"),
                           self.env)
                if not self.args.warm:
                    self.report(self.measure())
                    return
                import warm_start  # bench/warm_start.py

                with warm_start.running(adminkit(), self.env, self.work) as warm:
                    assert warm is not None
                    self.warm_env = warm.env
                    results = self.measure()
                    # at least: _install's purge and read-back run cold
                    warm.check(sum(len(results[t].get("adminkit warm", [])) for t in results))
                self.report(results)
        finally:
            fleet.reset()  # stopped: only wipes the hosts' layers (apt lists: MBs a host)

    def measure(self) -> dict[str, dict[str, list[float]]]:
        results: dict[str, dict[str, list[float]]] = {}
        for task, methods in self.tasks().items():
            times: dict[str, list[float]] = {m: [] for m in methods}
            for rnd in range(self.args.rounds):
                order = list(methods) if rnd % 2 == 0 else list(reversed(methods))
                for method in order:
                    times[method].append(methods[method]())
                print(f"{task} round {rnd + 1}: " + ", ".join(
                    f"{m} {times[m][-1]:.2f}s" for m in methods), file=sys.stderr)
            results[task] = times
        return results

    def report(self, results: dict[str, dict[str, list[float]]]) -> None:
        load = os.getloadavg()
        print(f"\n{self.args.hosts} hosts, forks {self.args.forks}, {self.args.rounds} paired "
              f"round(s); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"({os.cpu_count()} cores)")
        print(f"{'task':<8} {'method':<14} {'median s':>9} {'min s':>7} {'max s':>7}")
        for task, times in results.items():
            for method, values in times.items():
                print(f"{task:<8} {method:<14} {statistics.median(values):>9.2f} "
                      f"{min(values):>7.2f} {max(values):>7.2f}")
        # the goals; the sleep task has only the floor's
        goals = {"run": ("ansible", 0.2), "install": ("ansible", 0.3), "list": ("ansible", 0.2)}
        print("\nratios (median of the paired rounds' ratios, min-max):")
        for task, times in results.items():
            for mine in ("adminkit", "adminkit warm"):
                if mine in times:
                    self._ratios(task, mine, times, goals)
        if self.peak_rss:
            print(f"\nadminkit peak RSS: {max(self.peak_rss):.0f} MiB")

    @staticmethod
    def _ratios(task: str, mine: str, times: dict[str, list[float]],
                goals: dict[str, tuple[str, float]]) -> None:
        """`mine`'s paired ratios to each method that is not adminkit, goals marked."""
        for other, values in times.items():
            if other.startswith("adminkit"):
                continue
            ratios = [a / b for a, b in zip(times[mine], values, strict=True)]
            goal = ""
            if task in goals and goals[task][0] == other:
                met = statistics.median(ratios) <= goals[task][1]
                goal = f"  (goal <= {goals[task][1]}: {'met' if met else 'NOT met'})"
            elif other in ("slowest host", "floor", "cpu floor"):
                met = statistics.median(ratios) <= 1.2
                goal = f"  (goal <= 1.2: {'met' if met else 'NOT met'})"
            print(f"  {task}: {mine} / {other:<13} = {statistics.median(ratios):6.2f}x "
                  f"({min(ratios):.2f}-{max(ratios):.2f}){goal}")


def _fleet_cpu(fleet: SshFleet) -> float:
    """CPU seconds used so far by the fleet's hosts: every process under the lab's
    record of each host, its children's once they are reaped (cutime, cstime)."""
    children: dict[int, list[int]] = {}
    used: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
            used[int(entry)] = sum(int(x) for x in fields[11:15])  # utime stime cu cs
    ticks = 0
    todo = [p.pid for p in fleet.procs.load(fleet.name)]
    while todo:
        pid = todo.pop()
        ticks += used.get(pid, 0)
        todo += children.get(pid, [])
    return ticks / os.sysconf("SC_CLK_TCK")


def _login_and_run(fleet: SshFleet, address: str, command: str = "uname -r") -> float:
    started = time.perf_counter()
    # the socket adminkit logs in over (no Nagle, quick ACKs): the floor is what a
    # login can physically do, not the kernel defaults' delayed-ACK stalls
    client = fleet.connect(address, sock=tcp.connect(address, PORT, 10.0))
    try:
        _, stdout, _ = client.exec_command(command, timeout=120)
        stdout.read()
        if stdout.channel.recv_exit_status() != 0:
            raise SystemExit(f"{address}: {command} failed")
    finally:
        client.close()
    return time.perf_counter() - started


def pool_only(hosts: int, forks: int, command: list[str]) -> None:
    """The floor a process can reach: paramiko, `forks` threads, one login per host, the
    bare command (no reading before, no reading back)."""
    fleet = SshFleet(Lab().dir / "bench", hosts=hosts, subnet=SUBNET)
    line = shlex.join(command)
    import paramiko  # noqa: F401 - imported before the clock starts

    started = time.process_time()
    with ThreadPoolExecutor(forks) as pool:
        list(pool.map(lambda h: _login_and_run(fleet, h.address, line), fleet.fleet))
    print(f"logins-cpu {time.process_time() - started:.4f}")  # for cpu_floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", default="run,sleep,install,list")
    parser.add_argument("--ansible-venv", default=str(HERE / ".venv-ansible"))
    parser.add_argument("--no-ansible", dest="ansible", action="store_false")
    parser.add_argument("--warm", action="store_true",
                        help="also run adminkit's tasks through a warm process")
    parser.add_argument("--pool-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pool_only:
        pool_only(args.hosts, args.forks, args.command)
        return
    if args.hosts > 254:
        raise SystemExit("at most 254 hosts")
    with tempfile.TemporaryDirectory(prefix="adminkit-bench-") as work:
        Bench(args, Path(work)).main()
    print(f"(math: {math.ceil(args.hosts / args.forks)} waves of {args.forks} forks)")


if __name__ == "__main__":
    main()
