"""Federation endpoints (OpenID Federation 1.0 §8, §9) and the directory's node-to-node API.

- ``GET /.well-known/openid-federation``: this node's entity configuration;
- ``GET /federation/fetch?sub=…``: a subordinate statement about a registered child (§8.1);
- ``GET /federation/list``: the children's entity ids (§8.2);
- ``POST /federation/directory/register`` and ``/lookup``: called by child nodes with
  ``private_key_jwt`` (RFC 7523 §2.2), rate-limited and audited.

Federation endpoints answer errors as OIDF §8.9 JSON; the directory as RFC 9457 problems.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify, request

from idp.audit import service as audit
from idp.errors import problem
from idp.federation import entity, peer_auth
from idp.federation.directory import (
    AlreadyRegistered,
    BadIndex,
    DirectoryError,
    DirectoryUnavailable,
    NotAllowed,
    RateLimited,
)
from idp.federation.node import FederationNode, federation
from idp.federation.trust import TrustChain
from idp.platform import Platform, current_platform
from idp.ratelimit import Limit

log = logging.getLogger(__name__)
bp = Blueprint("federation", __name__)
# Failed node authentications per source address: cheap to send, costly to check (chains).
AUTH_FAILURES = Limit("fed-auth-fail", 30, 300)


def _node() -> FederationNode:
    return federation(current_platform())


def _fed_error(status: int, error: str, description: str) -> Response:
    resp = jsonify({"error": error, "error_description": description})
    resp.status_code = status
    return resp


def _statement(token: str) -> Response:
    resp = Response(token, mimetype=entity.MEDIA_TYPE)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get(entity.WELL_KNOWN)
def entity_configuration() -> Response:
    node = _node()
    if not node.config.enabled:
        return _fed_error(404, "not_found", "this node is not federated")
    return _statement(node.entity_configuration())


@bp.get(entity.FETCH_PATH)
def fetch() -> Response:
    node = _node()
    sub = request.args.get("sub", "")
    if not sub or len(sub) > 300:
        return _fed_error(400, "invalid_request", "sub is required")
    if sub == node.entity_id:  # §8.1.1: not for the issuer itself
        return _fed_error(400, "invalid_request", "use the entity configuration")
    token = node.subordinate_statement(sub) if node.config.enabled else None
    if token is None:
        return _fed_error(404, "not_found", "unknown subordinate")
    return _statement(token)


@bp.get(entity.LIST_PATH)
def list_subordinates() -> Response:
    node = _node()
    return jsonify(node.subordinate_ids() if node.config.enabled else [])


def _authenticate(node: FederationNode) -> TrustChain | Response:
    """The calling node's trust chain, or a 401/429 problem; failures are audited."""
    platform = node.platform
    address = request.remote_addr or ""
    if not platform.limiter.test(AUTH_FAILURES, address):
        return problem(429, "请求过于频繁", "too many failed node authentications")
    if request.form.get("client_assertion_type") != peer_auth.ASSERTION_TYPE:
        reason = "client_assertion_type must be jwt-bearer"
    else:
        try:
            return peer_auth.verify_assertion(request.form.get("client_assertion"),
                                              node.url(request.path), node.resolver,
                                              platform.store)
        except peer_auth.PeerAuthError as exc:
            reason = str(exc)
    platform.limiter.hit(AUTH_FAILURES, address)
    log.info("federation call refused from %s: %s", address, reason)
    with platform.db.session() as session:
        audit.record(session, actor="node:?", action="federation:peer_auth",
                     target=request.path, outcome="failure", address=address,
                     details={"reason": reason[:200]})
    resp = problem(401, "节点认证失败", reason)
    resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_client"'
    return resp


def _directory_error(exc: DirectoryError) -> Response:
    if isinstance(exc, AlreadyRegistered):
        return problem(409, "已在其他节点注册", str(exc), home_node=exc.home_node)
    if isinstance(exc, RateLimited):
        resp = problem(429, "请求过于频繁", str(exc))
        resp.headers["Retry-After"] = str(max(1, exc.retry_after))
        return resp
    if isinstance(exc, NotAllowed):
        return problem(403, "无权访问", str(exc))
    if isinstance(exc, BadIndex):
        return problem(400, "请求无效", str(exc))
    assert isinstance(exc, DirectoryUnavailable)
    return problem(503, "目录服务暂时不可用", str(exc))


@bp.post(entity.REGISTER_PATH)
def directory_register() -> Response:
    node = _node()
    caller = _authenticate(node)
    if isinstance(caller, Response):
        return caller
    home = request.form.get("home_node", "")
    try:
        home = node.directory.register_for_child(request.form.get("blind_index", ""), home,
                                                 caller)
    except DirectoryError as exc:
        return _directory_error(exc)
    return jsonify({"home_node": home})


@bp.post(entity.LOOKUP_PATH)
def directory_lookup() -> Response:
    node = _node()
    caller = _authenticate(node)
    if isinstance(caller, Response):
        return caller
    try:
        home = node.directory.lookup_for_child(request.form.get("blind_index", ""), caller)
    except DirectoryError as exc:
        return _directory_error(exc)
    return jsonify({"home_node": home})


def init_app(app: Flask, platform: Platform) -> None:
    """Build this node's federation service and register the endpoints."""
    from idp import csrf
    from idp.federation import outbox, set_receiver

    node = federation(platform)  # checks the federation settings at start-up
    csrf.exempt(bp.name)  # node-to-node calls authenticate with private_key_jwt instead
    app.register_blueprint(bp)
    csrf.exempt(set_receiver.bp.name)  # SETs are signed by the sending node (RFC 8935)
    app.register_blueprint(set_receiver.bp)
    outbox.install(platform)  # account creation and status changes queue federation work
    outbox.start_worker(node)  # server processes deliver in the background (not in tests)
