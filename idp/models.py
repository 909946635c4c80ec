"""Import every domain's models so metadata (Alembic, create_all) sees all tables."""

from admin_ui.models import CounterDocumentScan, StaffTotpCredential  # noqa: F401
from idp.accounts.ban_models import Ban, UnbanRequest  # noqa: F401
from idp.accounts.models import Person, RecoveryCode, TotpCredential  # noqa: F401
from idp.audit.models import AuditHead, AuditRecord  # noqa: F401
from idp.cas.models import CasService  # noqa: F401
from idp.delegation.models import Grant, GrantScope  # noqa: F401
from idp.federation.event_models import ReceivedEvent  # noqa: F401
from idp.federation.links import FederatedAccount, NodeSubscriber  # noqa: F401
from idp.federation.models import DirectoryEntry, FederationKey, Subordinate  # noqa: F401
from idp.federation.outbox import OutboxItem  # noqa: F401
from idp.oidc.models import *  # noqa: F401,F403
from idp.orgs.licence import LicenceImage  # noqa: F401
from idp.orgs.models import LegalPerson, RepresentativeChange  # noqa: F401
from idp.realname.models import AgreementAcceptance  # noqa: F401
from idp.staff.models import LocalStaffAccount, StaffMember  # noqa: F401
