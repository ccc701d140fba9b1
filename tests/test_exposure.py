"""What the service shows: /metrics only with its token, pages with security headers, Swagger UI from the package."""
import re

import pytest


def test_metrics_need_the_token_when_one_is_set(app, client):
    app.config["METRICS_TOKEN"] = "m" * 8 + "etrics-token-of-the-scraper"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer é"}).status_code == 401
    good = client.get("/metrics", headers={"Authorization": f"Bearer {app.config['METRICS_TOKEN']}"})
    assert good.status_code == 200 and b"marathon_http_requests" in good.data


def test_metrics_are_open_outside_production_without_a_token(app, client):
    assert client.get("/metrics").status_code == 200


def test_production_serves_no_metrics_without_a_token(app, client):
    app.config["ENV_NAME"] = "production"
    answer = client.get("/metrics")
    assert answer.status_code == 404 and answer.get_json()["code"] == 404


@pytest.mark.parametrize("path", ["/", "/admin"])
def test_pages_carry_security_headers(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    # every script and stylesheet of the page comes from us
    for url in re.findall(r'(?:src|href)="([^"]+)"', answer.get_data(as_text=True)):
        assert url.startswith("/") or url.startswith("#"), url


def test_swagger_ui_comes_from_the_installed_package(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "cdn" not in html and "http" not in html.replace("http-equiv", "")
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.data) > 1000, asset
    assert page.headers["X-Frame-Options"] == "DENY"
