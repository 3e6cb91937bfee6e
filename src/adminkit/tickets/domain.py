"""The tickets domain, as the `adminkit.domains` entry point announces it."""

from adminkit.core.domains import Domain

DOMAIN = Domain(
    name="tickets",
    sections="adminkit.tickets.settings:SECTIONS",
    section_names=("tickets",),
    probes="adminkit.tickets.health:probes",
)
