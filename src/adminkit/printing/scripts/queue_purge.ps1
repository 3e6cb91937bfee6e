# adminkit-op: printing.queue_purge
# Every job of the queue removed, in this one script.
param($p)
$jobs = @(Get-PrintJob -PrinterName $p.name)
$jobs | Remove-PrintJob
@{ removed = $jobs.Count }
