"""The deploy domain, as the `adminkit.domains` entry point announces it."""

from adminkit.core.domains import Domain

DOMAIN = Domain(
    name="deploy",
    sections="adminkit.deploy.settings:SECTIONS",
    section_names=("inventory",),
    actions="adminkit.deploy.actions:ACTIONS",
    probes="adminkit.deploy.health:probes",
)
