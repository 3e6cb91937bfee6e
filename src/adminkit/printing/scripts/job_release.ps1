# adminkit-op: printing.job_release
# Resume-PrintJob on one job of the named queue.
param($p)
Resume-PrintJob -PrinterName $p.printer -ID $p.id
@{ done = $true }
