# adminkit-op: printing.printer_test_page
# The driver's test page; its job is the newest one of the queue afterwards.
param($p)
$printer = Get-CimInstance -ClassName Win32_Printer | Where-Object { $_.Name -eq $p.name }
if (-not $printer) { Get-Printer -Name $p.name | Out-Null }
$r = Invoke-CimMethod -InputObject $printer -MethodName PrintTestPage
$job = Get-PrintJob -PrinterName $p.name | Sort-Object Id -Descending | Select-Object -First 1
@{ code = [int]$r.ReturnValue; id = [int]$job.Id }
