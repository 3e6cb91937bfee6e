"""Count the ldap3 operations of one process, by kind and by adminkit caller.

Loaded only when bench/accounts_bulk.py --count-ldap-ops puts this folder on the measured
adminkit's PYTHONPATH. At exit it writes lines starting with `LDAPOPS` to stderr:

    LDAPOPS total add=300 bind=8 modify=600 search=3948 unbind=8
    LDAPOPS   1200 11.6 search: create.plan > ad.find_group/ad.entries/ldapbase.entries

(count, seconds summed over threads, operation: outermost action method > backend methods).
It adds a little time per operation: use it to see what is done, not to time it.
"""

from __future__ import annotations

import atexit
import collections
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_count: collections.Counter[str] = collections.Counter()
_by_caller: collections.Counter[str] = collections.Counter()
_seconds: collections.defaultdict[str, float] = collections.defaultdict(float)
_lock = threading.Lock()
ACTION_MODULES = ("create", "groups", "base", "password", "state", "delete", "attributes")


def _caller() -> str:
    chain = []
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if "/adminkit/accounts/" in path:
            chain.append(f"{path.rsplit('/', 1)[1][:-3]}.{frame.f_code.co_name}")
        frame = frame.f_back  # type: ignore[assignment]
    actions = [c for c in chain if c.split(".")[0] in ACTION_MODULES]
    backend = [c for c in chain if c not in actions][-3:]
    return (f"{actions[-1] if actions else '?'} > "
            f"{'/'.join(reversed(backend)) if backend else '?'}")


def _wrap(cls: type, name: str) -> None:
    original: Callable[..., Any] | None = getattr(cls, name, None)
    if original is None:
        return
    call = original

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        who = _caller() if name in ("search", "modify", "add") else None
        try:
            return call(self, *args, **kwargs)
        finally:
            spent = time.perf_counter() - start
            with _lock:
                _count[name] += 1
                if who:
                    key = f"{name}: {who}"
                    _by_caller[key] += 1
                    _seconds[key] += spent

    setattr(cls, name, counted)


def _report() -> None:
    total = " ".join(f"{k}={v}" for k, v in sorted(_count.items()))
    lines = [f"LDAPOPS total {total}"]
    lines += [f"LDAPOPS {n:6d} {_seconds[k]:7.1f} {k}" for k, n in _by_caller.most_common(25)]
    sys.stderr.write("\n".join(lines) + "\n")


try:
    import ldap3
except ImportError:  # not an adminkit process
    pass
else:
    for _name in ("bind", "search", "add", "modify", "delete", "modify_dn", "unbind"):
        _wrap(ldap3.Connection, _name)
    try:  # adds adminkit encodes itself (ldap3 sees them only as a fallback)
        from adminkit.accounts import ldapwire
    except ImportError:
        pass
    else:
        _wrap(ldapwire, "add")  # type: ignore[arg-type]
    atexit.register(_report)
