"""An SSH login to a host with strict host-key checking."""

from __future__ import annotations

from adminkit.core.config import Profile
from adminkit.core.errors import AuthenticationFailed, ConnectionFailed, UsageError
from adminkit.core.health import Probe
from adminkit.deploy.settings import HostConfig, SSHSettings, inventory_settings


def check(host: HostConfig, ssh: SSHSettings | None) -> str:
    if host.transport != "ssh":
        raise UsageError(f"host {host.name}: transport {host.transport}: no backend yet")
    if ssh is None:
        raise UsageError("inventory has hosts but no `ssh:` settings")
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(ssh.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(host.address, port=host.port or ssh.port, username=ssh.user,
                       key_filename=str(ssh.key_file), timeout=ssh.timeout,
                       allow_agent=False, look_for_keys=False)
        _, stdout, _ = client.exec_command("true", timeout=ssh.timeout)
        status = stdout.channel.recv_exit_status()
    except paramiko.BadHostKeyException:
        raise ConnectionFailed(f"host {host.name}: its host key CHANGED",
                               hint="verify the host, then update known_hosts") from None
    except paramiko.AuthenticationException:
        raise AuthenticationFailed(f"host {host.name}: key login as {ssh.user} refused") from None
    except paramiko.SSHException as exc:
        raise ConnectionFailed(f"host {host.name}: {exc}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConnectionFailed(f"host {host.name} ({host.address}): {reason}") from None
    finally:
        client.close()
    return f"SSH as {ssh.user} with a known host key, command exit {status}"


def probes(profile: Profile) -> list[Probe]:
    inventory = inventory_settings(profile)
    if inventory is None:
        return []
    return [Probe("host", f"{h.name} ({h.address})",
                  lambda h=h: check(h, inventory.ssh))  # type: ignore[misc]
            for h in inventory.hosts]
