"""Ticket systems: notes, status, reading a ticket; the delivery outbox."""
