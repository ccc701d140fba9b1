"""The pages load, speak Korean and English, sign a runner up and in, and solve ALTCHA challenges in the browser."""
import base64
import json

import pytest
from playwright.sync_api import expect

from tests.e2e.support import PASSWORD, sign_up

pytestmark = pytest.mark.browser


def test_runner_signs_up_and_is_signed_in_on_a_phone(stack, phone, shots):
    phone.goto(stack.base + "/")
    expect(phone.locator("#view-races")).to_be_visible()  # public: nobody is asked to sign in to look
    phone.click("#sign-in")
    expect(phone.locator("#view-auth")).to_be_visible()
    expect(phone.locator("html")).to_have_attribute("lang", "ko")
    expect(phone.locator("#view-auth h1")).to_have_text("로그인하고 참가 신청하기")
    shots(phone, "sign-in")
    sign_up(phone, stack.base, "jiwoo@example.com", name="박지우")
    expect(phone.locator("#who")).to_have_text("박지우")
    expect(phone.locator("#view-races")).to_be_visible()
    shots(phone, "signed-in")

    # a second sign-up of the same person is refused with the API's own message
    phone.click("#sign-out")
    expect(phone.locator("#view-races")).to_be_visible()
    expect(phone.locator("#sign-in")).to_be_visible()
    sign_up(phone, stack.base, "jiwoo2@example.com", name="박지우")
    expect(phone.locator("#alert")).to_be_visible()
    expect(phone.locator("#alert")).to_have_attribute("data-reason", "identity_taken")
    shots(phone, "identity-taken")

    # sign in again; the session survives a reload (tokens in sessionStorage)
    phone.click("#tab-login")
    phone.fill("#login-form [name=email]", "jiwoo@example.com")
    phone.fill("#login-form [name=password]", PASSWORD)
    phone.click("#login-form button[type=submit]")
    expect(phone.locator("#who")).to_have_text("박지우")
    phone.reload()
    expect(phone.locator("#who")).to_have_text("박지우")


def test_language_toggle_switches_to_english_and_back(stack, phone):
    phone.goto(stack.base + "/")
    phone.click("#sign-in")
    phone.click("#lang-toggle")
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.locator("#view-auth h1")).to_have_text("Sign in to enter")
    phone.reload()
    expect(phone.locator("#view-auth h1")).to_have_text("Sign in to enter")
    phone.click("#lang-toggle")
    expect(phone.locator("#view-auth h1")).to_have_text("로그인하고 참가 신청하기")


def test_wrong_password_shows_the_api_message(stack, phone):
    email, _ = stack.runner()
    phone.goto(stack.base + "/")
    phone.click("#sign-in")
    phone.fill("#login-form [name=email]", email)
    phone.fill("#login-form [name=password]", "not the password")
    phone.click("#login-form button[type=submit]")
    expect(phone.locator("#alert")).to_be_visible()
    expect(phone.locator("#view-auth")).to_be_visible()


def test_admin_page_refuses_a_runner_account(stack, desktop):
    email, _ = stack.runner()
    desktop.goto(stack.base + "/admin")
    desktop.fill("#login-form [name=email]", email)
    desktop.fill("#login-form [name=password]", PASSWORD)
    desktop.click("#login-form button[type=submit]")
    expect(desktop.locator("#alert")).to_have_text("관리자 계정이 아닙니다.")
    expect(desktop.locator("#view-auth")).to_be_visible()


def test_the_page_solves_an_altcha_challenge_that_the_altcha_package_accepts(stack, phone):
    import altcha

    key, key_key = "test hmac key", "test derived key's key"
    challenge = altcha.create_challenge("PBKDF2/SHA-256", 1000, counter=300, hmac_secret=key,
                                        hmac_key_secret=key_key).to_dict()
    phone.goto(stack.base + "/")
    payload = phone.evaluate(
        """async (challenge) => {
             const { solve } = await import('/pages/static/js/pow.js');
             return solve(challenge);
           }""",
        challenge | {"max_counter": 400},
    )
    decoded = json.loads(base64.b64decode(payload))
    assert decoded["challenge"] == challenge and decoded["solution"]["counter"] == 300
    assert altcha.verify_solution(payload, key, hmac_key_secret=key_key).verified
    # the slow path (the key derived again) agrees: the browser's PBKDF2 is the package's
    assert altcha.verify_solution(payload, key).verified


def test_an_expired_access_token_is_refreshed_and_a_dead_session_signs_out(stack, phone):
    sign_up(phone, stack.base, "refresh@example.com", name="한새봄")
    expect(phone.locator("#who")).to_have_text("한새봄")

    def tokens():
        return phone.evaluate("JSON.parse(sessionStorage.getItem('marathon.runner'))")

    def store(changes):
        phone.evaluate("""(changes) => {
            const tokens = JSON.parse(sessionStorage.getItem('marathon.runner'));
            sessionStorage.setItem('marathon.runner', JSON.stringify({ ...tokens, ...changes }));
        }""", changes)

    # the server refuses the access token (401): the page refreshes it once and carries on
    store({"access_token": "not-a-token", "expires_at": 4102444800000})
    phone.reload()
    expect(phone.locator("#who")).to_have_text("한새봄")
    assert tokens()["access_token"] != "not-a-token"

    # the access token is about to run out: the page refreshes it before asking
    before = tokens()["access_token"]
    store({"expires_at": 1})
    phone.reload()
    expect(phone.locator("#who")).to_have_text("한새봄")
    assert tokens()["access_token"] != before

    # neither token is any good: signed out, the races still on show
    store({"access_token": "not-a-token", "refresh_token": "not-either", "expires_at": 4102444800000})
    phone.reload()
    expect(phone.locator("#sign-in")).to_be_visible()
    expect(phone.locator("#view-races")).to_be_visible()
    assert tokens() is None
