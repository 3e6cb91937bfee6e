# adminkit-op: printing.printer_set_config
# Set the given parts of a queue's default print configuration.
param($p)
$splat = @{ PrinterName = $p.name }
if ($null -ne $p.duplex) { $splat.DuplexingMode = $p.duplex }
if ($null -ne $p.color) { $splat.Color = [bool]$p.color }
if ($null -ne $p.paper) { $splat.PaperSize = $p.paper }
Set-PrintConfiguration @splat
@{ done = $true }
