"""Government staff: directory sign-in, roles and break-glass (issue 5 item 1).

Public API:

- `StaffDirectory` (port), `StaffIdentity`, `Role`, `Source`, the `StaffAuthError` family
  and `MESSAGES` (code → message to translate) — `idp.staff.directory`;
- `LdapDirectory` / `LdapConfig` — `idp.staff.ldap`; `LocalDirectory`, `create_local_staff`,
  `set_local_password` — `idp.staff.local`; `RoleMap` — `idp.staff.roles`;
- `StaffSignIn`, `SignedInStaff`, `build_staff_sign_in` — `idp.staff.service`.
"""

from idp.staff.directory import (
    MESSAGES,
    AccountDisabled,
    DirectoryUnavailable,
    NoRole,
    Role,
    Source,
    StaffAuthError,
    StaffDirectory,
    StaffIdentity,
    TooManyAttempts,
    WrongCredentials,
)

__all__ = [
    "MESSAGES", "AccountDisabled", "DirectoryUnavailable", "NoRole", "Role", "Source",
    "StaffAuthError", "StaffDirectory", "StaffIdentity", "TooManyAttempts", "WrongCredentials",
]
