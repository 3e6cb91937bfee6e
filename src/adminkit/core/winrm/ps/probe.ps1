# adminkit-op: winrm.probe
# Who and where we are: proves login, shell and script frame work. Echoes `echo` back.
param($p)
$os = Get-CimInstance -ClassName Win32_OperatingSystem
@{
    computer = $env:COMPUTERNAME
    user = [Security.Principal.WindowsIdentity]::GetCurrent().Name
    os = [string]$os.Caption
    version = [string]$os.Version
    powershell = $PSVersionTable.PSVersion.ToString()
    echo = $p.echo
}
