# adminkit-op: printing.queue_purge
# Exactly the listed jobs of the queue removed, in this one script; a job that is no
# longer there (it finished meanwhile, even between this listing and its removal) is
# not an error, nor one submitted since it listed. Names the jobs it removed.
param($p)
# the ids in a HashSet: `-contains` scans an array, per job (quadratic on 50,000 jobs)
$ids = New-Object 'System.Collections.Generic.HashSet[int]'
foreach ($id in @($p.ids)) { [void]$ids.Add([int]$id) }
$removed = New-Object 'System.Collections.Generic.List[int]'
foreach ($job in @(Get-PrintJob -PrinterName $p.name | Where-Object { $ids.Contains([int]$_.Id) })) {
    try {
        $job | Remove-PrintJob -ErrorAction Stop
        $removed.Add([int]$job.Id)
    } catch {
        # gone since the listing (printed): ObjectNotFound; anything else ends the script
        if ($_.CategoryInfo.Category -ne 'ObjectNotFound') { throw }
    }
}
@{ removed = $removed.Count; removed_ids = @($removed) }
