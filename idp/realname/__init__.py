"""Real-name registration: identity documents, verification and registration (R-01, R-03, R-10)."""
