"""adminkit: routine second-line helpdesk work, journaled and noted on the ticket."""

__version__ = "0.1.0"
