"""Host patterns: `web*,group:brno,!web3` picks hosts from the inventory.

Terms are separated by commas and taken in order: a name, a glob over names (`*`, `?`,
`[...]`), `group:NAME` (a glob over group names too), or `all`; a term starting with `!`
takes its hosts out again. A plain name that is not in the inventory is kept as
*unknown*: the run reports that host as failed and goes on with the others. A group
named without a glob that no host has, and an exclusion of a name neither the inventory
nor the pattern knows, are usage errors: a typo there (`all,!group:prodcution`) silently
took nothing out, and `app remove` or `host patch` went on to the hosts it meant to spare.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from adminkit.core.errors import UsageError
from adminkit.deploy.settings import HOST_NAME, HostConfig

GLOB = re.compile(r"[*?\[]")
TERM = re.compile(r"^!?(group:)?[A-Za-z0-9._*?\[\]!-]+\Z")


@dataclass(frozen=True)
class Selection:
    hosts: list[HostConfig]  # in inventory order
    unknown: list[str]  # plain names not in the inventory, in the pattern's order

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts] + self.unknown


def select(pattern: str, hosts: Sequence[HostConfig]) -> Selection:
    """The hosts `pattern` names; a malformed pattern or one that selects nothing is a
    usage error (exit 2), raised before any host is contacted."""
    terms = [t.strip() for t in pattern.split(",")]
    if not pattern.strip() or any(not t for t in terms):
        raise UsageError(f"--hosts {pattern!r}: an empty term",
                         hint="terms are separated by single commas: 'web*,group:brno,!web3'")
    chosen: dict[str, HostConfig] = {}
    unknown: list[str] = []
    by_name = {h.name: h for h in hosts}
    for term in terms:
        if not TERM.fullmatch(term):
            raise UsageError(f"--hosts: {term!r} is not a host pattern",
                             hint="a name, a glob (web*), group:NAME or all; ! excludes")
        exclude = term.startswith("!")
        body = term[1:] if exclude else term
        if body == "all":
            found = list(hosts)
        elif body.startswith("group:"):
            group = body[len("group:"):]
            found = [h for h in hosts if any(fnmatch.fnmatchcase(g, group) for g in h.groups)]
            if not found and not GLOB.search(group):
                raise UsageError(f"--hosts: no host of the inventory is in group {group!r}",
                                 hint="`adminkit host list` shows the hosts and their groups")
        elif GLOB.search(body):
            found = [h for h in hosts if fnmatch.fnmatchcase(h.name, body)]
        elif body in by_name:
            found = [by_name[body]]
        else:
            if not HOST_NAME.fullmatch(body):
                raise UsageError(f"--hosts: {body!r} is not a host name")
            if exclude and body not in unknown:
                raise UsageError(f"--hosts: {term!r} excludes {body!r}, which is not in the "
                                 "inventory", hint="`adminkit host list` shows the hosts")
            if exclude:
                unknown = [n for n in unknown if n != body]
            elif body not in unknown:
                unknown.append(body)
            continue
        for host in found:
            if exclude:
                chosen.pop(host.name, None)
            else:
                chosen[host.name] = host
    order = {h.name: i for i, h in enumerate(hosts)}
    picked = sorted(chosen.values(), key=lambda h: order[h.name])
    if not picked and not unknown:
        raise UsageError(f"--hosts {pattern!r} selects no host of the inventory",
                         hint="`adminkit host list` shows the hosts and their groups")
    return Selection(picked, unknown)
