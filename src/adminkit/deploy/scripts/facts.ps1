# adminkit-op: deploy.facts
# OS and version, uptime, a pending reboot, free space on the system drive, and which
# package managers the host has.
param($p)
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$drive = Get-CimInstance -ClassName Win32_LogicalDisk -Filter "DeviceID='$($env:SystemDrive)'"
$session = 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager'
$pending = (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') -or
    (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') -or
    ($null -ne (Get-ItemProperty -Path $session -Name PendingFileRenameOperations -ErrorAction SilentlyContinue))
$managers = @(@('winget', 'choco') | Where-Object { Get-Command "$_.exe" -ErrorAction SilentlyContinue })
@{
    os = [string]$os.Caption
    os_version = [string]$os.Version
    build = [string]$os.BuildNumber
    uptime_seconds = [int64]((Get-Date) - $os.LastBootUpTime).TotalSeconds
    reboot_pending = [bool]$pending
    free_disk_bytes = [int64]$drive.FreeSpace
    managers = $managers
}
