"""Federation of national, province and city nodes (R-62; OpenID Federation 1.0).

Every node runs this same software. The national node is the trust anchor, provinces are
intermediates, cities are leaves. Each node publishes a self-signed entity configuration at
``/.well-known/openid-federation``; each superior signs subordinate statements about its
children at ``/federation/fetch``. Any node checks any other node by resolving a trust chain
that ends at the anchor, whose keys are the only thing configured by hand.

Public entry points for other parts of the platform:

- `idp.federation.node.federation(platform)` — this node's `FederationNode`;
- `FederationNode.resolver.resolve(entity_id)` — a validated `trust.TrustChain`;
- `FederationNode.directory.register_person` / `find_home` — the mutual-recognition
  directory (blind index only; the document number never leaves the node).
"""
