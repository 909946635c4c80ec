"""Helps department systems integrate (issue 7 item 6): the registration self-check."""
