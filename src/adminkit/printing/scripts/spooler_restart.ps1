# adminkit-op: printing.spooler_restart
# Restart the Print Spooler service; its state afterwards.
param($p)
Restart-Service -Name Spooler -Force
@{ status = [string](Get-Service -Name Spooler).Status }
