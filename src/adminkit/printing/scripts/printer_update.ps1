# adminkit-op: printing.printer_update
# Change a queue's port, location or sharing (only what is given).
param($p)
if ($p.port -and -not (Get-PrinterPort | Where-Object { $_.Name -eq $p.port })) {
    Add-PrinterPort -Name $p.port -PrinterHostAddress $p.address
}
$splat = @{ Name = $p.name }
if ($p.port) { $splat.PortName = $p.port }
if ($null -ne $p.location) { $splat.Location = $p.location }
if ($null -ne $p.shared) { $splat.Shared = [bool]$p.shared }
Set-Printer @splat
@{ done = $true }
