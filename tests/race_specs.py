"""Race specs for the tests, timed against the test's clock."""
import copy
from datetime import timedelta


def race_spec(clock, slug="spring-10k", opens_in=timedelta(days=1), **overrides):
    """A valid spec whose sale opens `opens_in` after the clock's now (lobby 30 minutes before), for a week."""
    opens = clock.now().replace(microsecond=0) + opens_in
    spec = {
        "slug": slug, "name": "Spring 10K", "date": (opens + timedelta(days=40)).date().isoformat(),
        "sale_opens_at": opens.isoformat(), "sale_closes_at": (opens + timedelta(days=7)).isoformat(),
        "lobby_minutes": 30, "hold_seconds": 600, "pow_difficulty": 0,
        "refund_until": (opens + timedelta(days=30)).isoformat(),
        "courses": [
            {"code": "10K", "name": "10 km", "distance_km": 10, "price": 50000, "pace_groups": [
                {"code": "4", "label": "4:00-4:59 /km", "min_pace_s": 240, "max_pace_s": 299, "corral": "A",
                 "capacity": 5},
                {"code": "5", "label": "5:00-5:59 /km", "min_pace_s": 300, "max_pace_s": 359, "corral": "B",
                 "capacity": 3},
            ]},
            {"code": "5K", "name": "5 km", "distance_km": 5, "price": 30000, "pace_groups": [
                {"code": "6", "label": "6:00-6:59 /km", "min_pace_s": 360, "max_pace_s": 419, "corral": "C",
                 "capacity": 4},
            ]},
        ],
    }
    spec.update(overrides)
    return copy.deepcopy(spec)


def create(client, headers, spec):
    response = client.post("/api/v1/admin/races", json=spec, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
