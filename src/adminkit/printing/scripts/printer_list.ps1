# adminkit-op: printing.printer_list
# Every queue (or the one named): state, jobs, location, driver, port, sharing, default.
param($p)
$default = (Get-CimInstance -ClassName Win32_Printer -Filter 'Default=TRUE').Name
$found = @(Get-Printer | Where-Object { -not $p.name -or $_.Name -eq $p.name } | ForEach-Object {
    @{ name = $_.Name; status = [string]$_.PrinterStatus; jobs = [int]$_.JobCount
       location = [string]$_.Location; driver = [string]$_.DriverName
       port = [string]$_.PortName; shared = [bool]$_.Shared; comment = [string]$_.Comment
       default = ($_.Name -eq $default) }
})
@{ printers = $found }
