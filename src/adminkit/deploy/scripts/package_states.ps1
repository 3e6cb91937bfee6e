# adminkit-op: deploy.package_states
# The installed and the offered versions of named packages: winget ids (winget export
# for what is installed, winget show --versions for what the sources offer, newest
# first) and MSI products by their display name (the Uninstall keys; the key's name is
# the ProductCode). Chocolatey ids likewise (choco list / choco search --all-versions,
# `name|version` lines). With `all`, also every package winget and Chocolatey see installed.
param($p)
$out = @{}
$installed = @{}
if ($p.winget -or ($p.all -and (Get-Command winget.exe -ErrorAction SilentlyContinue))) {
    $file = Join-Path $env:TEMP ('adminkit-' + [guid]::NewGuid() + '.json')
    try {
        $null = & winget.exe export --output $file --include-versions --accept-source-agreements --disable-interactivity 2>&1
        if (Test-Path -LiteralPath $file) {
            foreach ($source in (Get-Content -Raw -LiteralPath $file | ConvertFrom-Json).Sources) {
                foreach ($pkg in $source.Packages) { $installed[[string]$pkg.PackageIdentifier] = [string]$pkg.Version }
            }
        }
    } finally {
        Remove-Item -LiteralPath $file -ErrorAction SilentlyContinue
    }
}
if ($p.winget) {
    foreach ($id in $p.winget) {
        $lines = @(& winget.exe show --id $id --exact --versions --accept-source-agreements --disable-interactivity 2>$null)
        $versions = @()
        $table = $false
        foreach ($line in $lines) {
            if ($table -and $line.Trim()) { $versions += $line.Trim() }
            elseif ($line -match '^-{3,}') { $table = $true }
        }
        $out[[string]$id] = @{ manager = 'winget'; installed = $installed[[string]$id]; available = $versions }
    }
}
$chocolatey = @{}
if ($p.choco -or ($p.all -and (Get-Command choco.exe -ErrorAction SilentlyContinue))) {
    foreach ($line in @(& choco.exe list --limit-output 2>$null)) {
        $name, $version = ([string]$line).Split('|', 2)
        if ($version) { $chocolatey[$name] = $version }
    }
}
foreach ($id in $p.choco) {
    $versions = @(& choco.exe search $id --exact --all-versions --limit-output 2>$null |
        ForEach-Object { ([string]$_).Split('|', 2)[1] } | Where-Object { $_ })
    $out[[string]$id] = @{ manager = 'choco'; installed = $chocolatey[[string]$id]; available = $versions }
}
if ($p.msi) {
    $keys = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*',
              'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*')
    $products = @(Get-ItemProperty -Path $keys -ErrorAction SilentlyContinue | Where-Object { $_.DisplayName })
    foreach ($msi in $p.msi) {
        $found = $products | Where-Object { $_.DisplayName -eq [string]$msi.display_name } | Select-Object -First 1
        $out[[string]$msi.name] = @{
            manager = 'msi'
            installed = $(if ($found) { [string]$found.DisplayVersion } else { $null })
            product_code = $(if ($found) { [string]$found.PSChildName } else { $null })
        }
    }
}
@{ packages = $out; all = $(if ($p.all) { $installed } else { $null })
   all_choco = $(if ($p.all) { $chocolatey } else { $null }) }
