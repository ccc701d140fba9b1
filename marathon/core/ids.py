"""Record ids from the outside world: only a plain decimal that an id column can hold is one."""

# ids are INTEGER columns (32-bit on PostgreSQL); a larger number names nothing, and SQLite raises on one past 64 bits
MAX_ID = 2**31 - 1


def record_id(value):
    """The id as an int, or None when `value` cannot be the id of any row (not ASCII digits, zero, too large)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value)
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            return None
        number = int(text)
    return number if 0 < number <= MAX_ID else None
