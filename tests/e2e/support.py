"""What the browser tests share besides fixtures: route checks, a second runner over HTTP, the sign-up steps."""
from datetime import date

import pytest

from tests.processes import http, wait_until

PASSWORD = "correct horse battery"


def require(app, *routes):
    """Skip unless the app serves every 'METHOD /path' in `routes` (endpoints still being built elsewhere)."""
    adapter = app.url_map.bind("localhost")
    for route in routes:
        method, path = route.split(" ", 1)
        try:
            adapter.match(path, method=method)
        except Exception:  # werkzeug's NotFound / MethodNotAllowed
            pytest.skip(f"{route} is not on this branch yet")


class Stack:
    """The live web and worker processes, and plain HTTP calls to them as a second runner would make."""

    def __init__(self, base, app):
        self.base = base
        self.app = app
        self.count = 0

    def api(self, method, path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http(method, self.base + path, body, headers)

    def runner(self, email=None, name=None):
        """A runner signed up and signed in through the API; returns (email, access token)."""
        self.count += 1
        email = email or f"api{self.count}@example.com"
        status, body = self.api("POST", "/api/v1/auth/signup", {
            "email": email, "password": PASSWORD, "name": name or f"API Runner {self.count}",
            "birth_date": "1988-03-04", "phone": f"010-7777-{self.count:04d}"})
        assert status == 201, body
        status, body = self.api("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
        assert status == 200, body
        return email, body["access_token"]

    def admin(self, email="admin@example.com", password="admin password 1"):
        from marathon.blueprints.auth.services import make_admin

        with self.app.app_context():
            make_admin(email, password)
        return email, password

    def wait_for_status(self, race, token, wanted, timeout=30):
        """Poll the runner's place (as the page does, no sooner than retry_after_s) until its status is `wanted`."""
        seen = {}

        def reached():
            status, body = self.api("GET", f"/api/v1/races/{race}/queue/me", token=token)
            seen.update(body if isinstance(body, dict) else {})
            return status == 200 and body["status"] == wanted

        wait_until(reached, timeout=timeout, what=f"status {wanted} (last {seen})")
        return seen


def sign_up(page, base, email, name="김러너", phone="010-2345-6789"):
    """Sign up on the runner's page (which then signs in)."""
    page.goto(base + "/")
    page.click("#sign-in")  # the races are public: sign-in is asked for, or chosen in the header
    page.click("#tab-signup")
    form = page.locator("#signup-form")
    form.locator("[name=name]").fill(name)
    form.locator("[name=birth_date]").fill(date(1990, 5, 17).isoformat())
    form.locator("[name=phone]").fill(phone)
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()


def hold_place(stack, race, token, course="10K", pace_group="5"):
    """A runner joins through the API and waits until admitted; returns the hold."""
    status, body = stack.api("POST", f"/api/v1/races/{race}/queue", {"course": course, "pace_group": pace_group}, token)
    assert status == 202, body
    return stack.wait_for_status(race, token, "admitted")["hold"]


def buy_place(stack, race, token, course="10K", pace_group="5"):
    """A runner joins, is admitted and pays through the API (fake provider); returns the registration."""
    hold = hold_place(stack, race, token, course, pace_group)
    status, order = stack.api("POST", "/api/v1/payments", {"hold_id": hold["id"]}, token)
    assert status == 201, order
    status, paid = stack.api("POST", f"/api/v1/payments/{order['order_id']}/confirm",
                             {"payment_key": "fake_api_runner", "amount": order["amount"]}, token)
    assert status == 200, paid
    return paid["registration"]


def choose(page, course, pace_group):
    """On the race detail: tap the course, then the pace group."""
    page.click(f'#course-list [data-course="{course}"]')
    page.click(f'#pace-list [data-pace-group="{pace_group}"]')
