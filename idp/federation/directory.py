"""Mutual-recognition directory: blind index → home node, up the chain (R-62, issue 6 item 2).

When an account is created, its node registers a keyed blind index of the document with its
parent, which passes it up to the national node. Lookups go up the chain the same way. The
index is an HMAC under the federation-wide directory key, so every node computes the same
index for the same document while the document number never leaves its node; see
docs/federation.md "Threat model / 威胁模型" for what that key does and does not protect.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.audit import service as audit
from idp.federation import entity, peer_auth
from idp.federation.models import DirectoryEntry
from idp.federation.trust import TrustChain, TrustError
from idp.ratelimit import Limit

if TYPE_CHECKING:
    from idp.federation.node import FederationNode

log = logging.getLogger(__name__)
_INDEX = re.compile(r"^[0-9a-f]{64}$")
_KDF_INFO = b"idp federation directory v1"


class DirectoryError(Exception):
    """Base of the directory's refusals."""


class BadIndex(DirectoryError):
    """Not a blind index (64 lowercase hex digits)."""


class AlreadyRegistered(DirectoryError):
    """The document is registered at another node: offer "sign in with the account you have"."""

    def __init__(self, home_node: str) -> None:
        super().__init__(f"already registered at {home_node}")
        self.home_node = home_node


class NotAllowed(DirectoryError):
    """The (authenticated) caller may not make this request."""


class RateLimited(DirectoryError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many directory requests")
        self.retry_after = retry_after


class DirectoryUnavailable(DirectoryError):
    """The parent could not be reached or refused us; nothing was stored."""


def directory_index(key: bytes, id_type: str, id_number: str) -> str:
    """The blind index of a document under the federation-wide key (R-63 "one code")."""
    subkey = hmac.new(key, _KDF_INFO, hashlib.sha256).digest()
    normalized = id_number.strip().upper()
    return hmac.new(subkey, f"{id_type}\x00{normalized}".encode(), hashlib.sha256).hexdigest()


def _short(index: str) -> str:
    """What audit and logs show of an index: enough to correlate, not to look up."""
    return index[:12]


class Directory:
    """The directory at one node; the parent is reached over authenticated HTTP."""

    def __init__(self, node: FederationNode) -> None:
        self.node = node
        settings = node.platform.settings
        self.lookup_limit = Limit("fed-dir-lookup", settings.federation_lookups_per_minute, 60)
        self.register_limit = Limit("fed-dir-register",
                                    settings.federation_registrations_per_minute, 60)

    # -- for this node's own accounts -------------------------------------------------------

    def index_for(self, id_type: str, id_number: str) -> str:
        key = self.node.config.directory_key
        if key is None:
            raise DirectoryUnavailable("no federation directory key configured")
        return directory_index(key, id_type, id_number)

    def register_person(self, id_type: str, id_number: str) -> str:
        """Register an account created here; return its home node (this node)."""
        return self.register(self.index_for(id_type, id_number), self.node.entity_id,
                             requester=self.node.entity_id)

    def find_home(self, id_type: str, id_number: str, requester: str) -> str | None:
        """The node holding this document's account, or None; ``requester`` is rate-limited."""
        return self.lookup(self.index_for(id_type, id_number), requester=requester)

    # -- core, also serving children through the API ---------------------------------------

    def register(self, blind_index: str, home_node: str, *, requester: str,
                 via: str = "") -> str:
        """Record ``blind_index`` → ``home_node`` here and at every superior (all or nothing
        here: the parent is asked first, so a refusal above leaves nothing below)."""
        self._check(blind_index, self.register_limit, requester)
        existing = self._local(blind_index)
        if existing is not None:
            if existing != home_node:
                self._audit("register", blind_index, requester, "conflict", existing)
                raise AlreadyRegistered(existing)
            return existing
        if self.node.config.parent:
            self._call_parent(entity.REGISTER_PATH,
                              {"blind_index": blind_index, "home_node": home_node})
        try:
            with self.node.platform.db.session() as session:
                session.add(DirectoryEntry(blind_index=blind_index, home_node=home_node,
                                           via=via))
                session.flush()
                audit.record(session, actor=f"node:{requester}",
                             action="federation:directory:register", target=home_node,
                             details={"index": _short(blind_index), "via": via})
        except IntegrityError:  # registered concurrently: same answer as above
            winner = self._local(blind_index)
            if winner != home_node:
                raise AlreadyRegistered(str(winner)) from None
        return home_node

    def lookup(self, blind_index: str, *, requester: str) -> str | None:
        """The home node of ``blind_index``: here, else asked of the parent (up the chain)."""
        self._check(blind_index, self.lookup_limit, requester)
        home = self._local(blind_index)
        if home is None and self.node.config.parent:
            answer = self._call_parent(entity.LOOKUP_PATH, {"blind_index": blind_index})
            home = answer.get("home_node") if isinstance(answer.get("home_node"), str) else None
        self._audit("lookup", blind_index, requester, "found" if home else "not_found",
                    home or "")
        return home

    # -- children calling through the API (the caller is already authenticated) ----------

    def register_for_child(self, blind_index: str, home_node: str, caller: TrustChain) -> str:
        """A child registers an account of its own, or of a node beneath it — nobody else's."""
        self._require_child(caller)
        if home_node != caller.entity_id:
            try:
                home_chain = self.node.resolver.resolve(home_node)
            except TrustError as exc:
                raise NotAllowed(f"home node not trusted: {exc}") from exc
            if caller.entity_id not in home_chain.path:
                raise NotAllowed("the home node is not beneath the calling node")
        return self.register(blind_index, home_node, requester=caller.entity_id,
                             via=caller.entity_id)

    def lookup_for_child(self, blind_index: str, caller: TrustChain) -> str | None:
        self._require_child(caller)
        return self.lookup(blind_index, requester=caller.entity_id)

    def _require_child(self, caller: TrustChain) -> None:
        if not self.node.is_child(caller.entity_id):
            raise NotAllowed("only this node's children use its directory")

    # -- helpers ------------------------------------------------------------------------------

    def _check(self, blind_index: str, limit: Limit, requester: str) -> None:
        if not isinstance(blind_index, str) or not _INDEX.match(blind_index):
            raise BadIndex("blind_index must be 64 lowercase hexadecimal digits")
        limiter = self.node.platform.limiter
        if not limiter.hit(limit, requester):
            self._audit(limit.name, blind_index, requester, "rate_limited", "")
            raise RateLimited(limiter.resets_in(limit, requester))

    def _local(self, blind_index: str) -> str | None:
        with self.node.platform.db.session() as session:
            return session.scalars(select(DirectoryEntry.home_node).where(
                DirectoryEntry.blind_index == blind_index)).one_or_none()

    def _audit(self, what: str, blind_index: str, requester: str, outcome: str,
               target: str) -> None:
        with self.node.platform.db.session() as session:
            audit.record(session, actor=f"node:{requester}",
                         action=f"federation:directory:{what}", target=target,
                         outcome=outcome, details={"index": _short(blind_index)})

    def _call_parent(self, path: str, data: dict[str, str]) -> dict[str, Any]:
        """POST to the parent with a fresh client assertion (RFC 7523 §2.2)."""
        url = self.node.config.parent + path
        assertion = peer_auth.create_assertion(self.node.keys.signer(), self.node.entity_id,
                                               url)
        form = {**data, "client_assertion_type": peer_auth.ASSERTION_TYPE,
                "client_assertion": assertion}
        try:
            resp = self.node.http.post(url, data=form, timeout=self.node.config.http_timeout,
                                       allow_redirects=False)
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("federation parent %s unreachable: %s", url, type(exc).__name__)
            raise DirectoryUnavailable("the parent node is unreachable") from exc
        if not isinstance(body, dict):
            raise DirectoryUnavailable("the parent node answered nonsense")
        if resp.status_code == 409 and isinstance(body.get("home_node"), str):
            raise AlreadyRegistered(body["home_node"])
        if resp.status_code == 429:  # our whole node is over the parent's limit
            retry = resp.headers.get("Retry-After", "60")
            raise RateLimited(int(retry) if retry.isdigit() else 60)
        if resp.status_code != 200:
            log.warning("federation parent %s answered %s", url, resp.status_code)
            raise DirectoryUnavailable(f"the parent node answered {resp.status_code}")
        return body
