# adminkit-op: deploy.outdated
# What `winget upgrade` offers: id, installed version, available version (its table read
# by the header's column positions); with `choco`, what `choco outdated` offers too.
param($p)
$lines = @()
if (Get-Command winget.exe -ErrorAction SilentlyContinue) {
    $lines = @(& winget.exe upgrade --accept-source-agreements --disable-interactivity 2>$null)
}
$rows = @()
$header = -1
for ($i = 0; $i -lt $lines.Count; $i++) {
    if ($lines[$i] -match '^\s*-{10,}\s*$' -and $i -gt 0) { $header = $i - 1; break }
}
if ($header -ge 0) {
    $head = $lines[$header]
    $idAt = $head.IndexOf('Id'); $versionAt = $head.IndexOf('Version'); $availableAt = $head.IndexOf('Available'); $sourceAt = $head.IndexOf('Source')
    foreach ($line in $lines[($header + 2)..($lines.Count - 1)]) {
        if ($line.Length -lt $availableAt -or $line -match '^\d+ upgrades? available') { continue }
        $end = $(if ($sourceAt -gt 0 -and $line.Length -gt $sourceAt) { $sourceAt } else { $line.Length })
        $rows += @{
            id = $line.Substring($idAt, $versionAt - $idAt).Trim()
            installed = $line.Substring($versionAt, $availableAt - $versionAt).Trim()
            available = $line.Substring($availableAt, $end - $availableAt).Trim()
        }
    }
}
if ($p.choco -and (Get-Command choco.exe -ErrorAction SilentlyContinue)) {
    foreach ($line in @(& choco.exe outdated --limit-output 2>$null)) {
        $name, $current, $available, $pinned = ([string]$line).Split('|')
        if ($available) { $rows += @{ id = $name; installed = $current; available = $available; manager = 'choco' } }
    }
}
@{ packages = $rows }
