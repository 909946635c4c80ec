"""Demo department systems: relying parties of the platform used by ``idp demo`` and tests.

They are also the reference for connecting a department system (connectors/): an OIDC
authorization-code client with PKCE on authlib, RP-initiated logout, and a back-channel
logout receiver that ends server-side sessions.
"""
