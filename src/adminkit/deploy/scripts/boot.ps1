# adminkit-op: deploy.boot
# When the host last started (UTC, round-trip format): a new value proves a restart.
param($p)
$os = Get-CimInstance -ClassName Win32_OperatingSystem
@{ boot_id = $os.LastBootUpTime.ToUniversalTime().ToString('o') }
