def test_app_serves_error_page_in_chinese_by_default(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    assert "页面不存在" in resp.get_data(as_text=True)
