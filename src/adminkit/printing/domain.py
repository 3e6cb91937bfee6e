"""The printing domain, as the `adminkit.domains` entry point announces it."""

from adminkit.core.domains import Domain

DOMAIN = Domain(
    name="printing",
    sections="adminkit.printing.settings:SECTIONS",
    section_names=("print_servers",),
    actions="adminkit.printing.actions.registry:ACTIONS",
    probes="adminkit.printing.health:probes",
)
