# adminkit-op: deploy.choco
# Chocolatey install, upgrade or uninstall of one package (and version): unattended, no
# progress, the package's own exit code passed on (3010, 1641: a reboot). The caller
# judges the exit code.
param($p)
$verb = [string]$p.verb
if ($verb -notin @('install', 'upgrade', 'uninstall')) { throw 'deploy.choco: unknown verb' }
$argv = @($verb, [string]$p.id, '--yes', '--no-progress', '--limit-output')
if ($p.version -and $verb -ne 'uninstall') { $argv += @('--version', [string]$p.version) }
$output = @(& choco.exe @argv 2>&1 | ForEach-Object { [string]$_ })
@{ exit_code = [int64]$LASTEXITCODE; output = @($output | Select-Object -Last 15) }
