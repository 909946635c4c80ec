"""OIDC persistent state: clients, signing keys, refresh tokens, consents."""
