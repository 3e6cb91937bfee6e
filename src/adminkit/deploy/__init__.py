"""Hosts: inventory, SSH and WinRM transports, package managers, fleet runs."""
