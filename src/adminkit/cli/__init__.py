"""Typer commands: parse arguments, build actions or runs, render results.

Modules here import heavy libraries (pydantic models, ldap3, rich tables) inside
the command functions, so that `adminkit --help` stays fast.
"""
