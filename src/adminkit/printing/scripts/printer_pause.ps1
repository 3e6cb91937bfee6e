# adminkit-op: printing.printer_pause
# Pause ($p.pause true) or resume a queue through its Win32_Printer instance.
param($p)
$printer = Get-CimInstance -ClassName Win32_Printer | Where-Object { $_.Name -eq $p.name }
if (-not $printer) { Get-Printer -Name $p.name | Out-Null }
$method = if ($p.pause) { 'Pause' } else { 'Resume' }
$r = Invoke-CimMethod -InputObject $printer -MethodName $method
@{ code = [int]$r.ReturnValue }
