"""PowerShell scripts of the WinRM transport itself (`winrm.probe`)."""
