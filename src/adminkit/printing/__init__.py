"""Print servers: CUPS over IPP (pycups), Windows print servers over WinRM."""
