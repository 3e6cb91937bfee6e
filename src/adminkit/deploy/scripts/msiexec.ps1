# adminkit-op: deploy.msiexec
# msiexec /i SOURCE (a path, UNC path or URL) or /x PRODUCTCODE: quiet, no restart, a
# verbose log. Returns msiexec's exit code (3010: reboot required, 1641: the installer
# started one) and the end of the log; the caller judges them.
param($p)
if ($p.verb -eq 'install') { $switch = '/i'; $target = [string]$p.source }
elseif ($p.verb -eq 'uninstall') { $switch = '/x'; $target = [string]$p.product_code }
else { throw 'deploy.msiexec: unknown verb' }
if ($target -match '["\r\n]' -or -not $target) { throw 'deploy.msiexec: the source holds a quote or a line break' }
$log = Join-Path $env:TEMP ('adminkit-msi-' + [guid]::NewGuid() + '.log')
$line = '{0} "{1}" /qn /norestart /l*v "{2}"' -f $switch, $target, $log
$proc = Start-Process -FilePath msiexec.exe -ArgumentList $line -Wait -PassThru -WindowStyle Hidden
$tail = @()
if (Test-Path -LiteralPath $log) { $tail = @(Get-Content -LiteralPath $log -Tail 20) }
@{ exit_code = [int64]$proc.ExitCode; log = $log; log_tail = $tail }
