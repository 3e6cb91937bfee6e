"""Directories: Active Directory and OpenLDAP over ldap3 (Entra ID over Graph later)."""
