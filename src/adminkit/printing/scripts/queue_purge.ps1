# adminkit-op: printing.queue_purge
# Exactly the listed jobs of the queue removed, in this one script; a job that is no
# longer there (it finished meanwhile) is not an error, nor one submitted since it listed.
param($p)
# the ids in a HashSet: `-contains` scans an array, per job (quadratic on 50,000 jobs)
$ids = New-Object 'System.Collections.Generic.HashSet[int]'
foreach ($id in @($p.ids)) { [void]$ids.Add([int]$id) }
$jobs = @(Get-PrintJob -PrinterName $p.name | Where-Object { $ids.Contains([int]$_.Id) })
$jobs | Remove-PrintJob
@{ removed = $jobs.Count; removed_ids = @($jobs | ForEach-Object { [int]$_.Id }) }
