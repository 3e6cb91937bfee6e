# adminkit-op: printing.printer_config
# A queue's default print configuration (duplex, colour, paper size).
param($p)
$c = Get-PrintConfiguration -PrinterName $p.name
@{ duplex = [string]$c.DuplexingMode; color = [bool]$c.Color; paper = [string]$c.PaperSize }
