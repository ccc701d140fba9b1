"""One account per person: phone numbers and names written differently are still the same person."""
import pytest

from marathon.blueprints.auth.identity import normalise_name, normalise_phone
from tests.conftest import PASSWORD

PERSON = {"name": "Lee Ji Eun", "birth_date": "1993-05-16", "phone": "010-1234-5678"}

PHONES = ["+82 010-1234-5678", "82-10-1234-5678", "0082-10-1234-5678", "010-1234-5678", "01012345678",
          "+82 10 1234 5678", "+82-10-1234-5678", "001-82-10-1234-5678", "８２－１０－１２３４－５６７８"]
NAMES = [
    "Lee Ji Eun",
    "lee  ji eun",
    "Lee\u200bJi Eun",            # zero-width space
    "Le\u00ade Ji Eun",           # soft hyphen
    "L\u0435e Ji Eun",            # Cyrillic small ie
    "Lee Ji Eun\u3164",           # Hangul filler
    "\u2060Lee Ji Eun\ufeff",     # word joiner, byte order mark
    "Lee J\u0456 Eun",            # Cyrillic byelorussian-ukrainian i
    "ＬＥＥ ＪＩ ＥＵＮ",           # full width
    "Lee\u180eJi\u200dEun",       # Mongolian vowel separator, zero-width joiner
    "Lee Ji Eu\u0578",            # Armenian vo (looks like n)
    "Lee Ji E\u028bn",            # Latin small v with hook (looks like u)
]


@pytest.mark.parametrize("phone", PHONES)
def test_phone_variants_are_one_number(phone):
    assert normalise_phone(phone) == "+821012345678"


@pytest.mark.parametrize("name", NAMES)
def test_name_variants_are_one_name(name):
    assert normalise_name(name) == normalise_name("Lee Ji Eun")


def test_korean_names_keep_their_letters():
    assert normalise_name("김민수") != normalise_name("김민주")
    assert normalise_name("김민수") == normalise_name("김\u200b민\u3164수")
    assert normalise_name("Kim") != normalise_name("Kin")


@pytest.mark.parametrize("phone", PHONES[:-1])  # full-width digits are refused by the schema's pattern (422)
def test_signup_refuses_the_same_person_by_phone(client, users, phone):
    users.signup(email="first@example.com", **PERSON)
    again = client.post("/api/v1/auth/signup", json=PERSON | {"email": "again@example.com", "password": PASSWORD,
                                                                "phone": phone})
    assert again.status_code == 409 and again.get_json()["reason"] == "identity_taken"


@pytest.mark.parametrize("name", NAMES)
def test_signup_refuses_the_same_person_by_name(client, users, name):
    users.signup(email="first@example.com", **PERSON)
    again = client.post("/api/v1/auth/signup", json=PERSON | {"email": "again@example.com", "password": PASSWORD,
                                                                "name": name})
    assert again.status_code == 409 and again.get_json()["reason"] == "identity_taken"


@pytest.mark.parametrize("phone", ["0000000", "010-0000", "+82 02", "123-456-7890-1234"])
def test_signup_refuses_numbers_that_are_not_phone_numbers(client, phone):
    answer = client.post("/api/v1/auth/signup", json=PERSON | {"email": "x@example.com", "password": PASSWORD,
                                                                 "phone": phone})
    assert answer.status_code == 422 and "phone" in answer.get_json()["errors"]["json"]


def test_a_name_of_invisible_characters_only_is_refused(client):
    answer = client.post("/api/v1/auth/signup", json=PERSON | {"email": "x@example.com", "password": PASSWORD,
                                                                 "name": "\u200b\u3164\u00ad"})
    assert answer.status_code == 422 and "name" in answer.get_json()["errors"]["json"]


def test_the_migration_rehashes_existing_accounts_and_keeps_one_person_twice(tmp_path, settings):
    """0005 recomputes every hash and phone from the stored raw values (on a database of its own, SQLite)."""
    import hashlib
    import hmac
    import re
    import unicodedata
    from datetime import date

    from flask_migrate import upgrade
    from sqlalchemy import text

    from marathon import create_app
    from marathon.blueprints.auth.services import identity_hash
    from marathon.extensions import db

    app = create_app(dict(settings, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}"))
    born = date(1990, 1, 1)

    def old_hash(name, phone):  # the rule before 0005: NFKC, no spaces, case folded; the phone's digits
        folded = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()
        return hmac.new(app.config["SECRET_KEY"].encode(), f"{folded}|{born.isoformat()}|{phone}".encode(),
                        hashlib.sha256).hexdigest()

    with app.app_context():
        upgrade(revision="0004_token_version")
        for index, name in enumerate(["Lee Ji Eun", "L\u0435e Ji Eun", "Kim"]):
            db.session.execute(text(
                "INSERT INTO users (email, password_hash, name, birth_date, phone, identity_hash, roles, created_at) "
                "VALUES (:email, 'x', :name, :born, '01012345678', :hash, 'runner', '2026-01-01 00:00:00')"),
                {"email": f"u{index}@example.com", "name": name, "born": born, "hash": old_hash(name, "01012345678")})
        db.session.commit()
        upgrade()
        rows = db.session.execute(text("SELECT name, phone, identity_hash FROM users ORDER BY id")).all()
        assert [row.phone for row in rows] == ["+821012345678"] * 3
        assert rows[0].identity_hash == identity_hash("Lee Ji Eun", born, "010-1234-5678")
        assert rows[1].identity_hash == old_hash("L\u0435e Ji Eun", "01012345678")  # one person twice: kept, logged
        assert rows[2].identity_hash == identity_hash("Kim", born, "+82 10 1234 5678")
        db.session.remove()
        db.engine.dispose()
