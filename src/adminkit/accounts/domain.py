"""The accounts domain, as the `adminkit.domains` entry point announces it."""

from adminkit.core.domains import Domain

DOMAIN = Domain(
    name="accounts",
    sections="adminkit.accounts.settings:SECTIONS",
    section_names=("directory", "accounts"),
    actions="adminkit.accounts.actions:ACTIONS",
    probes="adminkit.accounts.health:probes",
)
