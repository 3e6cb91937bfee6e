# adminkit-op: printing.printer_remove
# Delete a queue (and the jobs in it).
param($p)
Remove-Printer -Name $p.name
@{ done = $true }
