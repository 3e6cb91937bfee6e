"""apt and dpkg as a `PackageManager`: argument lists to send and parsers for what comes back.

Nothing here talks to a host; the SSH backend runs these argument lists. Names and
versions are checked against Debian's grammar (policy 5.6.1, 5.6.12) before any list is
made, and they only ever travel as arguments (`"$@"` of a constant script, or argv).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from adminkit.core.errors import ValidationError
from adminkit.deploy.backend import PackageSpec, PackageState, Update

NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?\Z")
VERSION = re.compile(r"^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*\Z")
ENV = ["env", "DEBIAN_FRONTEND=noninteractive", "NEEDRESTART_MODE=a"]
APT_GET = [*ENV, "apt-get", "-q", "-y", "-o", "Dpkg::Options::=--force-confdef",
           "-o", "Dpkg::Options::=--force-confold", "-o", "DPkg::Lock::Timeout=120"]
# dpkg-preconfigure, debconf's DPkg::Pre-Install-Pkgs hook, asks a package's questions
# before it is unpacked; debconf's frontend runs the same config script (and loads the
# same templates) at preinst and postinst anyway, so under the noninteractive frontend
# it only costs a Perl start: some 40 % of a small install's CPU on the host. It is left
# out only where it is the list's one entry as Debian ships it; a host with any other
# hook there (apt-listchanges, apt-listbugs, a site's own) keeps the list whole. The list
# is cleared by a config file read from stdin, the script is constant, the argument
# list only "$@" (after the stock list's text as $0).
STOCK_PRE_INSTALL = ('DPkg::Pre-Install-Pkgs "";\n'
                     'DPkg::Pre-Install-Pkgs:: "/usr/sbin/dpkg-preconfigure --apt || true";')
WITHOUT_PRECONFIGURE = (
    'if [ "$(apt-config dump DPkg::Pre-Install-Pkgs 2>/dev/null)" = "$0" ]; then '
    "printf '#clear DPkg::Pre-Install-Pkgs;\\n' | \"$@\" -c /dev/stdin; exit $?; fi; "
    'exec "$@"')
FORMAT = r"${Package}\t${Version}\t${db:Status-Abbrev}\n"
POLICY_MARK = "--adminkit-policy--"
REBOOT_MARK = "--adminkit-reboot-required--"
NO_APT = 3  # the query's exit when the host has no dpkg/apt
REBOOT_FLAG = "/var/run/reboot-required"
# One round trip for the state of several packages: dpkg's view, apt's (the candidates:
# left out of a read-back, where only what is installed counts, as apt-cache rebuilds its
# cache in memory after dpkg changed anything) and whether a reboot is pending; the names
# only as "$@", the format as $0.
QUERY = ("command -v apt-cache >/dev/null 2>&1 || exit 3; "
         "dpkg-query -W -f \"$0\" \"$@\" 2>/dev/null; echo " + POLICY_MARK
         + "; LC_ALL=C apt-cache policy \"$@\" 2>/dev/null; "
         f"[ -e {REBOOT_FLAG} ] && echo {REBOOT_MARK}; true")
INSTALLED = ("command -v dpkg-query >/dev/null 2>&1 || exit 3; "
             "dpkg-query -W -f \"$0\" \"$@\" 2>/dev/null; echo " + POLICY_MARK
             + f"; [ -e {REBOOT_FLAG} ] && echo {REBOOT_MARK}; true")


class Apt:
    name = "apt"
    query_as_root = False  # only to keep apt's cache for the install that follows

    # -- names --------------------------------------------------------------------------
    def check(self, spec: PackageSpec) -> None:
        if not NAME.fullmatch(spec.name):
            raise ValidationError(f"{spec.name!r} is not a Debian package name",
                                  hint="lower-case letters, digits and + . - (an :arch may "
                                       "follow)")
        if spec.version is not None and not VERSION.fullmatch(spec.version):
            raise ValidationError(f"{spec.version!r} is not a Debian version",
                                  hint="[EPOCH:]UPSTREAM[-REVISION], starting with a digit")

    # -- reading ------------------------------------------------------------------------
    def query(self, names: Sequence[str], *, candidates: bool = True) -> list[str]:
        return ["sh", "-c", QUERY if candidates else INSTALLED, FORMAT, *names]

    def parse_query(self, text: str, names: Sequence[str]) -> dict[str, PackageState]:
        dpkg_part, _, policy_part = text.partition(POLICY_MARK)
        dpkg = parse_dpkg(dpkg_part)
        policy = parse_policy(policy_part)
        states = {}
        for name in names:
            bare = name.split(":", 1)[0]
            version, status = dpkg.get(bare, (None, ""))
            candidate, available = policy.get(name, policy.get(bare, (None, ())))
            states[name] = PackageState(
                name=name, installed=version if status == "ii" else None,
                candidate=candidate, available=available,
                leftovers=status.startswith("rc"))
        return states

    def reboot_required(self, text: str) -> bool:
        """Whether the query's answer says a reboot is pending (Debian's flag file)."""
        return REBOOT_MARK in text.splitlines()

    def refresh(self) -> list[str]:
        return [*ENV, "apt-get", "-q", "-o", "DPkg::Lock::Timeout=120", "update"]

    def list_installed(self) -> list[str]:
        return ["dpkg-query", "-W", "-f", FORMAT]

    def parse_installed(self, text: str) -> dict[str, str]:
        return {name: version for name, (version, status) in parse_dpkg(text).items()
                if status == "ii"}

    def outdated(self) -> list[str]:
        return ["env", "LC_ALL=C", "apt-get", "-s", "-q", "-o", "Debug::NoLocking=1",
                "dist-upgrade"]

    def parse_outdated(self, text: str) -> dict[str, Update]:
        """`Inst NAME [OLD] (NEW ORIGIN… [ARCH])` lines of a simulated dist-upgrade; new
        packages it would pull in (no [OLD]) are not updates of anything installed."""
        found = {}
        for m in re.finditer(r"^Inst (\S+) \[(\S+)\] \((\S+) ?(.*?)(?: \[[^\]]*\])?\)",
                             text, re.MULTILINE):
            origin = m.group(4).strip()
            found[m.group(1)] = Update(m.group(1), m.group(2), m.group(3), origin,
                                       security="security" in origin.lower())
        return found

    # -- writing ------------------------------------------------------------------------
    def install(self, specs: Sequence[PackageSpec]) -> list[str]:
        pinned = any(s.version for s in specs)
        return _write([*(["--allow-downgrades"] if pinned else []), "install",
                       *(str(s) for s in specs)])

    def upgrade(self, specs: Sequence[PackageSpec]) -> list[str]:
        return _write(["install", "--only-upgrade", *(str(s) for s in specs)])

    def remove(self, names: Sequence[str], *, purge: bool) -> list[str]:
        return _write(["purge" if purge else "remove", *names])


def _write(words: list[str]) -> list[str]:
    """apt-get with `words`, without the stock debconf preconfiguring (see above)."""
    return ["sh", "-c", WITHOUT_PRECONFIGURE, STOCK_PRE_INSTALL, *APT_GET, *words]


def parse_dpkg(text: str) -> dict[str, tuple[str, str]]:
    """name -> (version, status abbreviation) from `dpkg-query -W -f FORMAT`."""
    found = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0]:
            found[parts[0]] = (parts[1], parts[2].strip())
    return found


def parse_policy(text: str) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """name -> (candidate, versions offered) from `apt-cache policy NAME…`."""
    found: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    name: str | None = None
    candidate: str | None = None
    versions: list[str] = []
    current: str | None = None
    sources: dict[str, list[str]] = {}

    def close() -> None:
        if name is not None:
            offered = tuple(v for v in versions
                            if any("/var/lib/dpkg/status" not in s for s in sources.get(v, [])))
            found[name] = (candidate, offered)

    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            close()
            name, candidate, versions, sources, current = line[:-1], None, [], {}, None
        elif name is None:
            continue
        elif line.strip().startswith("Candidate:"):
            value = line.split(":", 1)[1].strip()
            candidate = None if value == "(none)" else value
        elif (m := re.match(r"^ (?:\*\*\*| {3}) (\S+) (-?\d+)$", line)):
            current = m.group(1)
            versions.append(current)
            sources[current] = []
        elif current is not None and re.match(r"^ {8}", line):
            sources[current].append(line.strip())
    close()
    return found
