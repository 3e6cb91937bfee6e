"""PowerShell scripts of the Windows host backend (deploy/windows.py), one per operation."""
