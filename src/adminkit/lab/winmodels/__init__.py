"""Models of Windows hosts for the WinRM fake: every module here is imported by the fake
and registers handlers (`winrm_fake.handler("<domain>.<op>")`) for the scripts of its
domain, and the models they work on (`winrm_fake.model(name)`)."""
