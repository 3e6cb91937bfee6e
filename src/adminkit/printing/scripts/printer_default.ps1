# adminkit-op: printing.printer_default
# Make a queue the default of the account the shell runs as.
param($p)
$printer = Get-CimInstance -ClassName Win32_Printer | Where-Object { $_.Name -eq $p.name }
if (-not $printer) { Get-Printer -Name $p.name | Out-Null }
$r = Invoke-CimMethod -InputObject $printer -MethodName SetDefaultPrinter
@{ code = [int]$r.ReturnValue }
