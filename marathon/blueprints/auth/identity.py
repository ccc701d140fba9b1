"""Who a person is, for one account per person: a phone number in E.164 and a name folded to its skeleton."""
import functools
import hashlib
import hmac
import re
import unicodedata

import phonenumbers
from confusable_homoglyphs.utils import load as load_confusables

DEFAULT_REGION = "KR"
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15): drawn as nothing, so a name
# with one of them looks the same as without; Python's unicodedata does not expose the property. Some are Lo
# (the Hangul fillers U+115F, U+1160, U+3164, U+FFA0), not Cf, so the category alone does not find them.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
# the marks the confusables data puts round right-to-left characters
BIDI_MARKS = "\u200e\u200f"


def _ignorable(char):
    code = ord(char)
    if unicodedata.category(char) in ("Cf", "Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me") or char.isspace():
        return True
    return any(low <= code <= high for low, high in DEFAULT_IGNORABLE)


@functools.cache
def _skeleton_map():
    """Each character that looks like a Latin letter or digit, or a Hangul jamo, mapped to it (confusable_homoglyphs'
    copy of Unicode's confusables.txt, one character to one character only): Cyrillic `е` is Latin `e`. One step,
    never a chain (chains join `b` to `5` and `u` to `r`), and the targets themselves are never mapped (`l` and `1`,
    `rn` and `m` stay apart)."""
    mapping = {}
    # a character's own entry first: Cyrillic `і` looks like `i`, its capital `І` like `l`
    entries = sorted(load_confusables("confusables.json").items(), key=lambda item: _fold(item[0]) != item[0])
    for char, homoglyphs in entries:
        folded = _fold(char)
        if len(folded) != 1 or folded in TARGETS or folded in mapping:
            continue
        looks_like = sorted({_fold(h["c"].strip(BIDI_MARKS)) for h in homoglyphs} & TARGETS)
        if looks_like:
            mapping[folded] = looks_like[0]
    return mapping


def _fold(text):
    return unicodedata.normalize("NFKC", text).casefold()


TARGETS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789") | frozenset(chr(code) for code in range(0x1100, 0x1200))


def normalise_name(name):
    """The name's skeleton: NFKC, case folded, without invisible characters, spaces and accents, and with each
    look-alike letter as its class's one representative ('Lee Ji Eun', 'LEE\\u200bJI EUN' and 'Lеe Ji Eun' with a
    Cyrillic е are one name)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    # accents are marks after decomposition; Hangul syllables decompose to jamo, which are letters and stay
    decomposed = unicodedata.normalize("NFD", folded)
    kept = "".join(char for char in decomposed if not _ignorable(char))
    skeleton = _skeleton_map()
    return unicodedata.normalize("NFC", "".join(skeleton.get(char, char) for char in kept))


def parse_phone(phone):
    """The phone number, parsed with Korea as the default region ('00' as the international prefix too);
    raises ValueError if it is not a valid number."""
    text = unicodedata.normalize("NFKC", phone).strip()
    digits = re.sub(r"\D", "", text)
    candidates = [text]
    if not text.startswith("+") and digits.startswith("00"):
        candidates.append("+" + digits[2:])
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    raise ValueError(f"not a phone number: {phone!r}")


def normalise_phone(phone):
    """E.164 ('+821012345678' for '010-1234-5678', '+82 10 1234 5678', '0082-10-1234-5678', ...); a value that is not
    a valid number (a staff account's placeholder) keeps its digits only."""
    try:
        return phonenumbers.format_number(parse_phone(phone), phonenumbers.PhoneNumberFormat.E164)
    except ValueError:
        return re.sub(r"\D", "", phone)


def identity_hash(name, birth_date, phone, key):
    """A keyed hash of the person (name + birth date + phone), so the raw triple is never an index."""
    person = f"{normalise_name(name)}|{birth_date.isoformat()}|{normalise_phone(phone)}"
    return hmac.new(key.encode(), person.encode(), hashlib.sha256).hexdigest()
