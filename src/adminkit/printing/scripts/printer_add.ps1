# adminkit-op: printing.printer_add
# A TCP/IP port for the device (unless it exists), then the queue on it.
param($p)
if (-not (Get-PrinterPort | Where-Object { $_.Name -eq $p.port })) {
    Add-PrinterPort -Name $p.port -PrinterHostAddress $p.address
}
$splat = @{ Name = $p.name; DriverName = $p.driver; PortName = $p.port; Shared = [bool]$p.shared }
if ($p.shared) { $splat.ShareName = $p.name }
if ($p.location) { $splat.Location = $p.location }
Add-Printer @splat
@{ done = $true }
