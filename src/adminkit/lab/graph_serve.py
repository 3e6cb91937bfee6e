"""The lab's Graph fake as a process of its own (so it outlives `adminkit lab up`).

`python -m adminkit.lab.graph_serve --host 127.0.0.1 --port 9443 --dir DIR`

DIR holds `tls/` (the fake's CA and certificate), `app.pem` (the lab app's certificate
and key: its credential) and `app.secret` (its client secret). It serves the seeded
tenant (graph_state.seed) from memory: a restart is a reset. The app is granted what
adminkit's Entra commands need. SIGTERM or SIGINT stop it (exit 0).

A second app, "the portal" (`portal.secret`), stands for an administrator working in
the Entra admin center: its service principal holds Global Administrator, so it may do
what the lab app may not (delete an administrator), as the lab's tests need a person to.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adminkit.lab import graph_fake, graph_state
from adminkit.lab.graph_token import App, certificate_of

LAB_CLIENT_ID = "6c3b8f0a-2d4e-4f61-9a7b-1c2d3e4f5a6b"
PORTAL_CLIENT_ID = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
LAB_ROLES = frozenset({"User.ReadWrite.All", "GroupMember.ReadWrite.All", "Group.Read.All",
                       "Directory.Read.All", "LicenseAssignment.ReadWrite.All",
                       "AuditLog.Read.All", "User.RevokeSessions.All",
                       "User.DeleteRestore.All", "RoleManagement.Read.Directory"})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    folder: Path = args.dir
    fake = graph_fake.GraphFake(graph_state.seed())
    cert = certificate_of((folder / "app.pem").read_bytes())
    fake.issuer.apps[LAB_CLIENT_ID] = App(LAB_CLIENT_ID, set(LAB_ROLES),
                                          secret=(folder / "app.secret").read_text(),
                                          certificates=[cert])
    fake.tenant.add_service_principal(LAB_CLIENT_ID, "adminkit lab")
    fake.issuer.apps[PORTAL_CLIENT_ID] = App(PORTAL_CLIENT_ID, set(LAB_ROLES),
                                             secret=(folder / "portal.secret").read_text())
    portal = fake.tenant.add_service_principal(PORTAL_CLIENT_ID, "lab portal (administrator)")
    ga = next(r for r in fake.tenant.roles.values() if r["displayName"] == "Global Administrator")
    ga["_members"].add(portal["id"])
    fake.serve(folder / "tls" / "sink.pem", folder / "tls" / "sink.key", args.host, args.port)
    stop = threading.Event()

    def quit_(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, quit_)
    signal.signal(signal.SIGINT, quit_)
    print(f"graph fake on {fake.base}", flush=True)
    stop.wait()
    fake.close()


if __name__ == "__main__":
    main()
