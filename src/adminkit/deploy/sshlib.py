"""paramiko, imported without `invoke` and without `importlib.metadata`; once per process.

paramiko.config imports invoke for one thing only, `Match exec` in an ssh_config file,
and keeps working without it (that one keyword then raises the ImportError). adminkit
never reads an ssh_config, and importing invoke was a third of paramiko's import (about
100 of 300 ms, on every deploy command's start, before the first login). So while
paramiko is imported, `invoke` is marked as not importable; afterwards it is
importable again for anyone else.

paramiko's `__init__` asks `importlib.metadata.version("paramiko")` for its
`__version__` (the SSH banner's `paramiko_X.Y`): importing importlib.metadata (the
e-mail parser, zipfile, csv) and searching every distribution took 50-60 ms of CPU on
each cold deploy command. While paramiko is imported, `importlib.metadata` is a
stand-in whose `version("paramiko")` reads the same `Version:` line from the same
`*.dist-info/METADATA` importlib.metadata would find first on sys.path; any other name,
any other attribute, or a layout it does not read (an egg, a zip) loads the real module
and asks it. Afterwards the stand-in is gone.
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType

_METADATA = "importlib.metadata"
_lock = threading.Lock()  # one thread imports; the others wait for it, then share it
_real_lock = threading.Lock()  # the stand-in swapped for the real module once


def load() -> ModuleType:
    """The paramiko module (imported once per process, whichever thread asks first)."""
    found = sys.modules.get("paramiko")
    if found is not None and not getattr(found.__spec__, "_initializing", False):
        return found
    with _lock:
        found = sys.modules.get("paramiko")
        if found is not None:  # imported while this thread waited (or by another path)
            import paramiko  # waits for its import to finish, if it is still running

            return paramiko
        blocked = "invoke" not in sys.modules
        if blocked:
            sys.modules["invoke"] = None  # type: ignore[assignment]  # import -> ImportError
        stand_in = _metadata_stand_in() if _METADATA not in sys.modules else None
        if stand_in is not None:
            sys.modules[_METADATA] = stand_in
        try:
            import paramiko
        finally:
            if blocked and "invoke" in sys.modules and sys.modules["invoke"] is None:
                del sys.modules["invoke"]
            if stand_in is not None and sys.modules.get(_METADATA) is stand_in:
                del sys.modules[_METADATA]
        return paramiko


def installed_version(distribution: str) -> str | None:
    """The `Version:` of `distribution`'s METADATA in the first sys.path folder holding
    its `.dist-info`, as importlib.metadata finds it; None where this cannot tell (a zip
    or egg on sys.path, an `.egg-info` first, no METADATA): ask importlib.metadata."""
    want = _normalize(distribution)
    for folder in sys.path:
        if folder.lower().endswith(".egg") or os.path.isfile(folder):
            return None  # importlib.metadata reads inside these; this does not
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in sorted(names):
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            if _normalize(name.rsplit(".", 1)[0].split("-", 1)[0]) != want:
                continue
            if name.endswith(".egg-info"):
                return None
            return _version_line(os.path.join(folder or ".", name, "METADATA"))
    return None


def _version_line(path: str) -> str | None:
    """The `Version:` header of a METADATA file (the headers end at the first blank line)."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    return None
                key, sep, value = line.partition(":")
                if sep and key.strip().lower() == "version":
                    return value.strip() or None
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _metadata_stand_in() -> ModuleType:
    """`importlib.metadata` for paramiko's import: `version("paramiko")` from its
    METADATA file; anything else from the real module, loaded then."""
    stand_in = ModuleType(_METADATA, "importlib.metadata while paramiko is imported")

    def real() -> ModuleType:
        with _real_lock:
            if sys.modules.get(_METADATA) is stand_in:
                del sys.modules[_METADATA]
            import importlib.metadata

            return importlib.metadata

    def version(distribution_name: str) -> str:
        found = installed_version(distribution_name) if _normalize(distribution_name) \
            == "paramiko" else None
        return found if found is not None else str(real().version(distribution_name))

    def attribute(name: str) -> object:  # __path__ too: a submodule imported meanwhile
        return getattr(real(), name)

    stand_in.version = version  # type: ignore[attr-defined]
    stand_in.__getattr__ = attribute  # type: ignore[method-assign]
    return stand_in
