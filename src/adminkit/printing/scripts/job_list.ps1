# adminkit-op: printing.job_list
# The jobs of every queue (or the one named), or the one with the given id.
param($p)
$jobs = @(Get-Printer | Where-Object { -not $p.printer -or $_.Name -eq $p.printer } |
    Get-PrintJob | Where-Object { -not $p.id -or $_.Id -eq $p.id } | ForEach-Object {
    @{ id = [int]$_.Id; printer = $_.PrinterName; owner = [string]$_.UserName
       name = [string]$_.DocumentName; size = [long]$_.Size; status = [string]$_.JobStatus
       submitted = $_.SubmittedTime.ToUniversalTime().ToString('o') }
})
@{ jobs = $jobs }
