"""YAML playbooks: reviewed helpdesk procedures made of actions, run the same by people,
ticket triggers and schedules."""
