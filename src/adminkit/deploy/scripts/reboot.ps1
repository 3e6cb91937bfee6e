# adminkit-op: deploy.reboot
# Restart the host now. -Force: a logged-on user or an open file does not stop it.
# Restart-Computer returns once the restart is under way; the caller then waits for a
# new boot time (deploy.boot), not for this connection to drop.
param($p)
Restart-Computer -Force
@{ requested = $true }
