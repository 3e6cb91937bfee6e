"""The lab: real servers on the loopback range, installed, started, reset and stopped by adminkit.

Tests and the README's demo use it; nothing here is needed to run adminkit against
a customer's systems.
"""
