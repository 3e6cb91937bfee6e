# adminkit-op: deploy.reboot_pending
# Whether the host wants a restart: the marks deploy.facts reads too (Windows servicing,
# Windows Update, files to replace at the next start), without the CIM queries.
param($p)
$session = 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager'
$pending = (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') -or
    (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') -or
    ($null -ne (Get-ItemProperty -Path $session -Name PendingFileRenameOperations -ErrorAction SilentlyContinue))
@{ reboot_pending = [bool]$pending }
