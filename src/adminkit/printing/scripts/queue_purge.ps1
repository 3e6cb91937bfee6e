# adminkit-op: printing.queue_purge
# Exactly the listed jobs of the queue removed, in this one script; a job that is no
# longer there (it finished meanwhile) is not an error, nor one submitted since it listed.
param($p)
$ids = @($p.ids | ForEach-Object { [int]$_ })
$jobs = @(Get-PrintJob -PrinterName $p.name | Where-Object { $ids -contains $_.Id })
$jobs | Remove-PrintJob
@{ removed = $jobs.Count }
