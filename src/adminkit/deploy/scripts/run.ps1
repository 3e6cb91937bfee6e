# adminkit-op: deploy.run
# One program and its command line (built by the caller from an argument list with the
# C runtime's quoting rules; no shell reads it), its output, and an end at the deadline
# (the process tree is killed).
param($p)
$info = New-Object System.Diagnostics.ProcessStartInfo
$info.FileName = [string]$p.file
$info.Arguments = [string]$p.arguments
$info.UseShellExecute = $false
$info.RedirectStandardOutput = $true
$info.RedirectStandardError = $true
$info.CreateNoWindow = $true
$proc = [System.Diagnostics.Process]::Start($info)
$stdout = $proc.StandardOutput.ReadToEndAsync()
$stderr = $proc.StandardError.ReadToEndAsync()
$timedOut = -not $proc.WaitForExit([int]([double]$p.timeout * 1000))
if ($timedOut) {
    $null = & taskkill.exe /T /F /PID $proc.Id 2>&1
    $proc.WaitForExit()
}
@{ exit_code = [int64]$proc.ExitCode; stdout = $stdout.Result; stderr = $stderr.Result; timed_out = $timedOut }
