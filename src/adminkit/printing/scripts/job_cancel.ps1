# adminkit-op: printing.job_cancel
# Remove-PrintJob on one job of the named queue.
param($p)
Remove-PrintJob -PrinterName $p.printer -ID $p.id
@{ done = $true }
