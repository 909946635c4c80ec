"""Linked registration (R-12): a real-name identity from a configured trusted platform.

An OIDC authorization-code flow with PKCE and nonce (`OidcTrustedPlatform`); the pending
request (state, nonce, verifier) is single-use in the Store. The identity it returns starts a
`Registration` that already counts as verified — its level comes from the configured
``acr`` mapping — and then goes through the same password and agreement steps, ending as an
account with channel ``linked``.
"""

from __future__ import annotations

import secrets

from idp.crypto import mask_id_number, random_token
from idp.realname.reg_state import Registration, RegistrationError
from idp.realname.registration import ONLINE_DOCUMENTS, Registrations, clean_name
from idp.realname.sources import AuthorityError
from idp.realname.wiring import TrustedPlatformEntry
from idp.store import Store, get_json, pop_json, set_json

PENDING_TTL = 10 * 60
_ID_TYPE_OF = {wire.value: id_type for id_type, wire in ONLINE_DOCUMENTS.items()}


def begin(store: Store, entry: TrustedPlatformEntry, redirect_uri: str,
          tx: str | None) -> str:
    """Remember a fresh state/nonce/verifier and return the upstream authorization URL."""
    state, nonce, verifier = random_token(24), random_token(24), secrets.token_urlsafe(48)
    try:
        url = entry.client.authorization_url(redirect_uri, state=state, nonce=nonce,
                                             code_verifier=verifier)
    except AuthorityError as exc:
        raise RegistrationError("authority_unavailable", authority=exc.authority.value) from None
    set_json(store, f"linked:{state}", {"platform": entry.name, "nonce": nonce,
                                        "verifier": verifier, "tx": tx}, PENDING_TTL)
    return url


def pending_platform(store: Store, state: object) -> str | None:
    """The platform a callback's ``state`` belongs to, without spending it."""
    if not isinstance(state, str) or not 16 <= len(state) <= 64:
        return None
    found = get_json(store, f"linked:{state}")
    return found["platform"] if found else None


def complete(store: Store, entry: TrustedPlatformEntry, regs: Registrations, *,
             state: object, code: object, redirect_uri: str) -> Registration:
    """Redeem the code, map the identity, refuse a registered number, start a registration."""
    pending = pop_json(store, f"linked:{state}") if isinstance(state, str) else None
    if pending is None or pending["platform"] != entry.name:
        raise RegistrationError("linked_expired")
    if not isinstance(code, str) or not code or len(code) > 512:
        raise RegistrationError("linked_refused", authority="trusted_platform")
    regs.spend_budget(None)  # the number is not known before the platform answers
    try:
        identity = entry.client.complete(code, redirect_uri, nonce=pending["nonce"],
                                         code_verifier=pending["verifier"])
    except AuthorityError as exc:
        regs.audit_check(exc.authority.value, "unavailable", "", {"check": "linked"})
        raise RegistrationError("authority_unavailable", authority=exc.authority.value) from None
    id_type = _ID_TYPE_OF.get(identity.document_type)
    level = entry.levels.get(identity.acr)
    regs.audit_check("trusted_platform", "match", identity.subject, {
        "check": "linked", "issuer": entry.client.config.issuer, "acr": identity.acr,
        "id": mask_id_number(identity.document_number)})
    if id_type is None:
        raise RegistrationError("document_type_offline")
    if level is None:
        raise RegistrationError("linked_level_too_low")
    number = regs.parse_document(id_type, identity.document_number)
    regs.refuse_registered(id_type, number)
    return regs.states.new(
        id_type=id_type, id_number=number, name=clean_name(identity.name), channel="web",
        tx=pending.get("tx"), linked={"issuer": entry.client.config.issuer,
                                      "subject": identity.subject, "acr": identity.acr,
                                      "level": level, "platform": entry.name})

