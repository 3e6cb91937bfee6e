"""The lab's Windows hosts: the WinRM fake (lab/winrm_fake.py) on 127.0.2.N:5986 over
HTTPS with a CA of its own (`$LAB/winrm/tls/ca.pem`).

One process serves every host, one listener per address: print servers (`winps1`,
`winps2`) and hosts of the deploy inventory (`win1`…`win3`, with winget and the MSI
applications `contoso-agent` and `contoso-reporter`: lab/winmodels/windows_host.py). They log in
`LAB\\lab-admin` (NTLM or Basic) with a password the lab makes (`$LAB/winrm/password`,
0600; the users file beside it is what the fake and its NTLM acceptor read). `lab up`
adds the print servers and the Windows hosts to the `lab` profile. Each host's state
lives in the process and is new at every start; tests drive it over `/_fake/control`
(see `WinRMLab.control`).
"""

from __future__ import annotations

import json
import ssl
import sys
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Any, ClassVar

from adminkit.core.errors import AdminkitError, LabError
from adminkit.lab import base, process
from adminkit.lab.base import LabServer

USER = "lab-admin"
DOMAIN = "LAB"
PORT = 5986
PRINT_SERVERS = {"winps1": "127.0.2.1", "winps2": "127.0.2.2"}
HOSTS = {"win1": "127.0.2.11", "win2": "127.0.2.12", "win3": "127.0.2.13"}


class WinRMLab(LabServer):
    name = "winrm"
    python_needs: ClassVar[dict[str, str]] = {"winrm": "pywinrm>=0.5.0"}
    ready_timeout = 20.0

    @property
    def tls(self) -> Path:
        return self.dir / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls / "ca.pem"

    @property
    def password_file(self) -> Path:
        return self.dir / "password"

    @property
    def users_file(self) -> Path:
        return self.dir / "users"

    @staticmethod
    def addresses() -> dict[str, str]:
        return {**PRINT_SERVERS, **HOSTS}

    def is_set_up(self) -> bool:
        return all(p.is_file() for p in (self.ca_file, self.tls / "sink.pem",
                                         self.tls / "sink.key", self.password_file,
                                         self.users_file))

    def setup(self) -> None:
        from adminkit.lab.smtp import make_tls
        from adminkit.lab.winrm_fake import write_users

        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.ca_file.is_file() and (self.tls / "sink.pem").is_file()):
            make_tls(self.tls, tuple(self.addresses().values()), "adminkit lab WinRM CA")
        password = base.read_or_create_secret(self.password_file)
        write_users(self.users_file, {USER: password}, DOMAIN)

    def start(self) -> None:
        for address in self.addresses().values():
            base.require_port(address, PORT, self.name)
        self.setup()
        argv = [sys.executable, "-m", "adminkit.lab.winrm_fake", "--port", str(PORT),
                "--cert", str(self.tls / "sink.pem"), "--key", str(self.tls / "sink.key"),
                "--users", str(self.users_file)]
        for name, address in self.addresses().items():
            argv += ["--listen", f"{name}={address}"]
        proc, _ = process.spawn(argv, log=self.log_file)
        self.record([proc])

    def probe(self) -> None:
        """The transport's own probe script on every host, as adminkit runs it."""
        from adminkit.core.secrets import Secret
        from adminkit.core.winrm import WinRMSession, WinRMTarget, load_script

        script = load_script("adminkit.core.winrm.ps", "probe")
        password = Secret(self.password_file.read_text())
        for name, address in self.addresses().items():
            session = WinRMSession(WinRMTarget(
                name, address, f"{DOMAIN}\\{USER}", password, port=PORT,
                ca_file=self.ca_file, deadline=10, operation_timeout=1, read_timeout=5))
            try:
                answer = session.run_script(script, {"echo": name})
            except AdminkitError as exc:
                raise LabError(f"winrm: {name} at {address}: {exc.message}") from None
            finally:
                session.close()
            if not isinstance(answer, dict) or answer.get("echo") != name:
                raise LabError(f"winrm: {name} answered {answer!r}")

    def reset(self) -> None:
        """Every host back to its first state (shells, calls, models, faults)."""
        for name in self.addresses():
            self.control(name, {"reset": True})

    def profile(self) -> dict[str, Any]:
        from adminkit.lab.winmodels.windows_host import SHARE, WEB

        login = {"user": f"{DOMAIN}\\{USER}",
                 "password": f"file:{self.password_file.absolute()}",
                 "ca_file": str(self.ca_file.absolute())}
        msi = {"contoso-agent": {"display_name": "Contoso Agent", "versions": {
                   "1.2.0": SHARE + "agent-1.2.0.msi", "1.3.0": SHARE + "agent-1.3.0.msi"}},
               "contoso-reporter": {"display_name": "Contoso Reporter", "versions": {
                   "5.0": WEB + "reporter-5.0.msi"}}}
        return {
            "print_servers": [{"name": name, "kind": "windows", "host": address,
                               "port": PORT, **login}
                              for name, address in PRINT_SERVERS.items()],
            "inventory": {
                "winrm": {**login, "port": PORT, "msi": msi},
                "hosts": [{"name": name, "address": address, "transport": "winrm",
                           "groups": ["windows", "lab"]} for name, address in HOSTS.items()],
            },
        }

    # -- for tests --------------------------------------------------------------------
    def control(self, host: str, request: dict[str, Any] | None = None) -> Any:
        """Drive host `host` of the running fake: a request for `FakeHost.control`
        (inject a fault, reset, act on a model); None reads its state."""
        address = self.addresses()[host]
        url = f"https://{address}:{PORT}/_fake/" + ("state" if request is None else "control")
        data = None if request is None else json.dumps(request).encode()
        token = b64encode(f"{USER}:{self.password_file.read_text()}".encode()).decode()
        req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                     headers={"Authorization": f"Basic {token}",
                                              "Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            with urllib.request.urlopen(req, context=context, timeout=10) as answer:  # noqa: S310 - https to the lab
                return json.loads(answer.read())
        except OSError as exc:
            raise LabError(f"winrm: {host} at {address}: {exc}") from None
