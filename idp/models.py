"""Import every domain's models so metadata (Alembic, create_all) sees all tables."""

from idp.accounts.models import Person, RecoveryCode, TotpCredential  # noqa: F401
from idp.audit.models import AuditHead, AuditRecord  # noqa: F401
from idp.oidc.models import *  # noqa: F401,F403
