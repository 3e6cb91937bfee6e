# adminkit-op: printing.job_restart
# Restart-PrintJob on one job of the named queue.
param($p)
Restart-PrintJob -PrinterName $p.printer -ID $p.id
@{ done = $true }
