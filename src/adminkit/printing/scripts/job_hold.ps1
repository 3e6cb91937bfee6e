# adminkit-op: printing.job_hold
# Suspend-PrintJob on one job of the named queue.
param($p)
Suspend-PrintJob -PrinterName $p.printer -ID $p.id
@{ done = $true }
