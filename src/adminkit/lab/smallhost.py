"""What a lab SSH host's dpkg knows: a small server's packages, not the build machine's.

A lab host overlays the machine's own /usr and /var, so its dpkg database was the
machine's: over a thousand packages (compilers, Samba, CUPS, PostgreSQL: everything
the lab itself needs) and some 150,000 files, which dpkg reads on every install and
removal ("Reading database ..."). That was most of apt's time on every host, for
Ansible and adminkit alike, and no small server has it. A host's database is cut to
what a small Debian server has: the packages of priority required, important and
standard that the machine has, the lab hosts' own (sshd, sudo, the other managers),
Python 3 with python3-apt (what Ansible needs on a host) and everything they depend
on. Their files stay on disk; dpkg only stops counting the others as installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PRIORITIES = ("required", "important", "standard")
STATUS = "/var/lib/dpkg/status"
FILE_TRIGGERS = "/var/lib/dpkg/triggers/File"


def stanzas(text: str) -> dict[str, tuple[dict[str, str], str]]:
    """Installed packages of a dpkg status file: name -> (fields, the stanza as is)."""
    found = {}
    for stanza in text.split("\n\n"):
        if not stanza.strip():
            continue
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            else:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        name = fields.get("Package", "")
        if name and fields.get("Status", "").endswith(" installed"):
            found[name] = (fields, stanza.strip("\n"))
    return found


def _names(relation: str) -> list[list[str]]:
    """`a (>= 1) | b, c:any` -> [[a, b], [c]]: each dependency's alternatives."""
    return [[re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip().split(":")[0]
             for alt in dep.split("|")]
            for dep in relation.split(",") if dep.strip()]


def keep(installed: dict[str, tuple[dict[str, str], str]], wanted: Iterable[str]
         ) -> set[str]:
    """The wanted packages (those installed), the priorities' and Essential ones, and
    what they depend on (Depends, Pre-Depends; the first alternative installed)."""
    provider: dict[str, str] = {name: name for name in installed}
    for name, (fields, _) in installed.items():
        for alternatives in _names(fields.get("Provides", "")):
            provider.setdefault(alternatives[0], name)
    todo = [n for n, (f, _) in installed.items()
            if f.get("Priority") in PRIORITIES or f.get("Essential") == "yes"]
    todo += [n for n in wanted if n in installed]
    kept: set[str] = set()
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept.add(name)
        fields = installed[name][0]
        for relation in ("Pre-Depends", "Depends"):
            for alternatives in _names(fields.get(relation, "")):
                found = next((provider[a] for a in alternatives if a in provider), None)
                if found is not None:
                    todo.append(found)
    return kept


def small_status(text: str, wanted: Iterable[str]) -> tuple[str, set[str]]:
    """The status file of a small server cut from the machine's `text`, and its names."""
    installed = stanzas(text)
    kept = keep(installed, wanted)
    return "\n\n".join(installed[n][1] for n in sorted(kept)) + "\n", kept


def file_triggers(text: str, kept: set[str]) -> str:
    """dpkg's file-trigger interests (`PATH PACKAGE[/noawait]` lines) of kept packages."""
    lines = [line for line in text.splitlines()
             if len(line.split()) == 2 and line.split()[1].split("/")[0].split(":")[0] in kept]
    return "".join(line + "\n" for line in lines)
