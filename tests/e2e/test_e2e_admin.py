"""The admin's live board follows a sale while runners wait and are admitted, and runs the open/pause buttons."""
import pytest
from playwright.sync_api import expect

from tests.e2e.support import require

pytestmark = pytest.mark.browser

RUNNERS = 12


@pytest.fixture
def lobby_race(app):
    """A race in its lobby (the sale opens in an hour unless an admin opens it): 10K/5 and HALF/4, 20 places each."""
    from marathon.core.clock import SystemClock
    from tests.factories import make_race

    with app.app_context():
        made = make_race(SystemClock(), slug="busan-autumn", opens_in_s=3600, lobby_minutes=120,
                         buckets=(("10K", "5", 20), ("HALF", "4", 20)))
        return {"id": made.id, "slug": made.slug, "name": made.name}


def test_board_follows_runners_waiting_then_admitted(app, stack, lobby_race, desktop, shots):
    require(app, "GET /api/v1/races", "GET /api/v1/admin/races/x/stats", "POST /api/v1/admin/races/x/open",
            "POST /api/v1/admin/races/x/pause")
    email, password = stack.admin()
    desktop.goto(stack.base + "/admin")
    desktop.fill("#login-form [name=email]", email)
    desktop.fill("#login-form [name=password]", password)
    desktop.click("#login-form button[type=submit]")
    row = desktop.locator('#buckets tr[data-line="10K/5"]')
    expect(row.locator('[data-field="capacity"]')).to_have_text("20")
    expect(desktop.locator("#sale-state")).to_have_attribute("data-state", "lobby")

    tokens = [stack.runner()[1] for _ in range(RUNNERS)]
    for token in tokens:
        status, body = stack.api("POST", f"/api/v1/races/{lobby_race['id']}/queue",
                                 {"course": "10K", "pace_group": "5"}, token)
        assert status == 202 and body["lobby"] is True, body
    expect(row.locator('[data-field="waiting"]')).to_have_text(str(RUNNERS))
    expect(desktop.locator("#total-waiting")).to_have_text(str(RUNNERS))
    shots(desktop, "1-lobby")

    desktop.click('[data-action="open"]')
    expect(desktop.locator("#confirm")).to_be_visible()
    shots(desktop, "2-confirm-open", full_page=False)
    desktop.click("#confirm-ok")
    expect(desktop.locator("#sale-state")).to_have_attribute("data-state", "open")
    # the worker shuffles the lobby and admits everyone: the board sees them held, and a rate above zero on the way
    expect(row.locator('[data-field="held"]')).to_have_text(str(RUNNERS), timeout=30_000)
    expect(row.locator('[data-field="waiting"]')).to_have_text("0")
    expect(desktop.locator("#chart")).not_to_have_attribute("data-peak", "0")
    expect(desktop.locator("#chart polyline")).to_be_visible()
    shots(desktop, "3-admitted")

    desktop.click('[data-action="pause"]')
    desktop.click("#confirm-ok")
    expect(desktop.locator("#sale-state")).to_have_attribute("data-state", "paused")


def test_board_on_a_phone(app, stack, lobby_race, phone, shots):
    require(app, "GET /api/v1/races", "GET /api/v1/admin/races/x/stats")
    email, password = stack.admin()
    phone.goto(stack.base + "/admin")
    phone.fill("#login-form [name=email]", email)
    phone.fill("#login-form [name=password]", password)
    phone.click("#login-form button[type=submit]")
    expect(phone.locator('#buckets tr[data-line="HALF/4"] [data-field="capacity"]')).to_have_text("20")
    shots(phone, "board")
