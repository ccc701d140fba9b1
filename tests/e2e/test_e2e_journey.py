"""A runner's whole journey on a phone, from sign-up to the bib, against the real web and worker processes."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.support import PASSWORD, buy_place, choose, hold_place, require, sign_up

pytestmark = pytest.mark.browser

JOURNEY = ("GET /api/v1/races", "GET /api/v1/races/1", "POST /api/v1/payments", "POST /api/v1/payments/x/confirm",
           "POST /api/v1/registrations/1/cancel")


def test_full_journey_from_sign_up_to_the_bib_on_a_phone(app, stack, race, phone, shots):
    require(app, *JOURNEY)
    # another runner holds the only place of 10K/5, so our runner waits first in line
    _, other = stack.runner()
    hold_place(stack, race["id"], other)

    sign_up(phone, stack.base, "minji@example.com", name="이민지")
    expect(phone.locator("#race-name")).to_have_text(race["name"])  # the only race opens by itself
    expect(phone.locator("#race-state")).to_have_attribute("data-state", "open")
    shots(phone, "1-race")
    phone.click('#course-list [data-course="10K"]')
    group = phone.locator('#pace-list [data-pace-group="5"]')
    # 10 km at 3:20-4:19 /km finishes in 0:33-0:43
    expect(group.locator(".finish")).to_contain_text("0:33–0:43")
    expect(group).to_contain_text("남은 자리 없음")
    expect(phone.locator('#pace-list [data-pace-group="6"]')).to_contain_text("남은 자리 10")
    shots(phone, "2-pace-groups")
    group.click()
    expect(phone.locator("#join-summary")).to_contain_text("50,000원")
    phone.click("#join")

    expect(phone.locator("#view-line")).to_be_visible()
    expect(phone.locator("#line-position")).to_have_text("1")
    expect(phone.locator("#line-ahead")).to_have_text("0")
    shots(phone, "3-waiting")

    # the other runner gives the place back: ours is admitted by the worker and holds it for hold_seconds
    status, _ = stack.api("DELETE", f"/api/v1/races/{race['id']}/queue/me", token=other)
    assert status == 204
    expect(phone.locator("#view-hold")).to_be_visible(timeout=30_000)
    expect(phone.locator("#hold-countdown")).to_have_text(re.compile(r"^(9|10):\d\d$"))
    expect(phone.locator("#hold-amount")).to_have_text("50,000원")
    shots(phone, "4-hold")

    form = phone.locator("#checkout-form")
    form.locator("[name=blood_type]").select_option("A+")
    form.locator("[name=emergency_contact]").fill("010-9876-5432")
    form.locator("[name=card]").select_option("decline")
    phone.click("#pay")
    expect(phone.locator("#alert")).to_have_attribute("data-reason", "payment_declined")
    expect(phone.locator("#alert strong")).to_have_text("카드 결제가 거절되었습니다.")
    expect(phone.locator("#view-hold")).to_be_visible()
    shots(phone, "5-declined")
    form.locator("[name=card]").select_option("ok")
    phone.click("#pay")

    expect(phone.locator("#view-ticket")).to_be_visible()
    expect(phone.locator("#ticket-bib")).to_have_text(re.compile(r"^\d+$"))
    expect(phone.locator("#ticket-course")).to_have_text("10K")
    expect(phone.locator("#ticket-pace")).to_have_text("pace 5")
    expect(phone.locator("#ticket-corral")).to_have_text("A")
    expect(phone.locator("#ticket-qr svg")).to_be_visible()
    shots(phone, "6-bib")

    phone.click("#lang-toggle")
    expect(phone.locator("#view-ticket h1")).to_have_text("Your bib")
    phone.click("#cancel-entry")
    phone.click("#confirm-ok")
    expect(phone.locator("#alert")).to_contain_text("Cancelled")
    expect(phone.locator("#ticket")).to_have_attribute("data-status", "cancelled")
    expect(phone.locator("#ticket-qr")).to_be_hidden()
    shots(phone, "7-cancelled")


def test_a_sold_out_bucket_says_so_and_another_can_be_joined(app, stack, race, phone, shots):
    require(app, *JOURNEY)
    _, other = stack.runner()
    buy_place(stack, race["id"], other)  # the only place of 10K/5 is confirmed

    sign_up(phone, stack.base, "seoyeon@example.com", name="최서연")
    choose(phone, "10K", "5")
    expect(phone.locator('#pace-list [data-pace-group="5"]')).to_contain_text("남은 자리 없음")
    phone.click("#join")
    # refused at the door (409 sold_out) or sold out in line once the worker sees the bucket full: the page says so
    expect(phone.locator("#alert")).to_have_attribute("data-reason", "sold_out")
    expect(phone.locator("#alert")).to_be_visible()
    shots(phone, "sold-out")

    if phone.locator("#back-to-races").is_visible():
        phone.click("#back-to-races")
    choose(phone, "10K", "6")
    phone.click("#join")
    expect(phone.locator("#view-hold")).to_be_visible(timeout=30_000)


def test_transfer_from_the_bib(app, stack, race, phone, shots):
    require(app, *JOURNEY, "POST /api/v1/registrations/1/transfer")
    friend, _ = stack.runner("friend@example.com", name="정하늘")
    sign_up(phone, stack.base, "doyun@example.com", name="강도윤")
    choose(phone, "HALF", "4")
    phone.click("#join")
    expect(phone.locator("#view-hold")).to_be_visible(timeout=30_000)
    phone.click("#pay")
    expect(phone.locator("#view-ticket")).to_be_visible()
    bib = phone.locator("#ticket-bib").inner_text()
    phone.click("#transfer-box summary")
    phone.fill("#transfer-form [name=to_email]", friend)
    phone.locator("#transfer-form [name=blood_type]").select_option("O+")
    phone.fill("#transfer-form [name=emergency_contact]", "010-1111-2222")
    phone.click("#transfer-form button[type=submit]")
    phone.click("#confirm-ok")
    expect(phone.locator("#ticket")).to_have_attribute("data-status", "transferred")
    expect(phone.locator("#ticket-bib")).to_have_text(bib)
    shots(phone, "transferred")


@pytest.fixture
def pow_race(app):
    """An open race that asks for proof of work before a join."""
    from marathon.core.clock import SystemClock
    from tests.factories import make_race

    with app.app_context():
        made = make_race(SystemClock(), slug="daegu-pow", opens_in_s=-60, pow_difficulty=20_000,
                         buckets=(("5K", "7", 5),))
        return {"id": made.id, "slug": made.slug}


def test_proof_of_work_is_solved_in_the_browser_before_the_join(app, stack, pow_race, phone, shots):
    require(app, "GET /api/v1/races", "GET /api/v1/races/1", "GET /api/v1/races/1/pow")
    sign_up(phone, stack.base, "pow@example.com", name="윤가람")
    choose(phone, "5K", "7")
    phone.click("#join")
    expect(phone.locator("#view-hold")).to_be_visible(timeout=30_000)
    expect(phone.locator("#alert")).to_be_hidden()


@pytest.fixture
def short_hold_race(app):
    """An open race whose holds last four seconds."""
    from marathon.core.clock import SystemClock
    from tests.factories import make_race

    with app.app_context():
        made = make_race(SystemClock(), slug="short-hold", opens_in_s=-60, hold_seconds=4, buckets=(("5K", "7", 5),))
        return {"id": made.id, "slug": made.slug}


def test_a_hold_that_runs_out_says_so(app, stack, short_hold_race, phone, shots):
    require(app, "GET /api/v1/races", "GET /api/v1/races/1")
    sign_up(phone, stack.base, "late@example.com", name="오늦음")
    choose(phone, "5K", "7")
    phone.click("#join")
    expect(phone.locator("#view-hold")).to_be_visible(timeout=30_000)
    # the countdown reaches zero, the page asks how it ended and says the place was released
    expect(phone.locator("#alert")).to_have_attribute("data-reason", "expired", timeout=30_000)
    expect(phone.locator("#view-line")).to_be_visible()
    expect(phone.locator("#back-to-races")).to_be_visible()
    expect(phone.locator("#line-title")).to_have_text("대기가 끝났습니다")
    shots(phone, "expired")


def test_the_race_is_shown_before_sign_in_and_the_join_follows_it_with_pushed_status(app, stack, race, phone, shots):
    require(app, *JOURNEY)
    _, other = stack.runner()
    hold_place(stack, race["id"], other)
    email, _ = stack.runner()
    phone.add_init_script("""window.streams = [];
        window.EventSource = class extends window.EventSource {
            constructor(url) { super(url); window.streams.push(url); } };""")
    phone.goto(stack.base + "/")
    # races, courses, pace groups, places left and runners waiting, before anyone signs in
    expect(phone.locator("#race-name")).to_have_text(race["name"])
    expect(phone.locator("#sign-in")).to_be_visible()
    choose(phone, "10K", "5")
    expect(phone.locator('#pace-list [data-pace-group="5"]')).to_contain_text("남은 자리 없음")
    expect(phone.locator('#pace-list [data-pace-group="6"]')).to_contain_text("남은 자리 10")
    shots(phone, "1-public-race")
    phone.click("#join")
    expect(phone.locator("#view-auth")).to_be_visible()  # sign-in comes when the runner joins
    phone.fill("#login-form [name=email]", email)
    phone.fill("#login-form [name=password]", PASSWORD)
    phone.click("#login-form button[type=submit]")
    expect(phone.locator("#view-line")).to_be_visible()
    expect(phone.locator("#line-position")).to_have_text("1")
    # the page follows its place by Server-Sent Events, and the admission is pushed to it
    assert "/queue/me/events?access_token=" in phone.evaluate("window.streams.join(' ')")
    status, _ = stack.api("DELETE", f"/api/v1/races/{race['id']}/queue/me", token=other)
    assert status == 204
    expect(phone.locator("#view-hold")).to_be_visible(timeout=30_000)
    shots(phone, "2-admitted-by-push")
