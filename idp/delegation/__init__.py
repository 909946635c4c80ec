"""Delegated authority for legal persons: three levels, scopes, validity (R-42).

Public API: :class:`idp.delegation.service.Delegation` (grant, apply, approve, refuse, change,
cancel, view), :func:`idp.delegation.authority.authority_of` and
:func:`idp.delegation.authority.grants_for_client` (sign-in, token, refresh, introspection),
:mod:`idp.delegation.representative` (change of legal representative, R-21) and
:func:`idp.delegation.bans.on_person_banned`.
"""
