"""The OpenAPI document the platform serves for app, kiosk and counter developers."""


def test_openapi_document_is_served_with_problem_schema(client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"type", "title", "status"} <= set(doc["components"]["schemas"]["Problem"]["required"])


def test_unknown_api_path_answers_problem_details(client):
    resp = client.get("/api/v1/no-such-thing")
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["status"] == 404
