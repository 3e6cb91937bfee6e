"""The automation layer's profile section (`automation:`), announced like a domain's.

Automation is not a domain (it runs the domains' actions), but its rules live in each
customer's profile, so it brings its section through the same entry point group.
"""

from adminkit.core.domains import Domain

DOMAIN = Domain(name="automation", sections="adminkit.automation.settings:SECTIONS",
                probes="adminkit.automation.settings:probes", section_names=("automation",))
