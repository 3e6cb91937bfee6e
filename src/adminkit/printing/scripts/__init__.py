"""PowerShell scripts for Windows print servers, one per operation (see core/winrm)."""
