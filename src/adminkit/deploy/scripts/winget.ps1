# adminkit-op: deploy.winget
# winget install, upgrade or uninstall of one exact id (and version): silent, agreements
# accepted, never interactive, with a log. Returns winget's exit code as it came (an
# HRESULT, which PowerShell reads as a signed number); the caller judges it.
param($p)
$verb = [string]$p.verb
if ($verb -notin @('install', 'upgrade', 'uninstall')) { throw 'deploy.winget: unknown verb' }
$log = Join-Path $env:TEMP ('adminkit-winget-' + [guid]::NewGuid() + '.log')
$argv = @($verb, '--id', [string]$p.id, '--exact', '--silent', '--disable-interactivity',
          '--accept-source-agreements', '--log', $log)
if ($verb -ne 'uninstall') { $argv += '--accept-package-agreements' }
if ($p.version) { $argv += @('--version', [string]$p.version) }
$output = @(& winget.exe @argv 2>&1 | ForEach-Object { [string]$_ })
@{ exit_code = [int64]$LASTEXITCODE; output = @($output | Select-Object -Last 15); log = $log }
