"""The starting packages. "vs individual" is computed (sessions × services' prices)."""

from decimal import Decimal

from django.db import transaction

from services.models import Service

from .models import Package

PACKAGES = [
    {
        "name": "Fatigue / Focus / Energy",
        "services": ["Cryotherapy", "Oxygen Therapy"],
        "sessions": 10,
        "min_sessions_per_week": 2,
        "max_sessions_per_week": 3,
        "price": Decimal("850"),
        "validity_days": 60,
        "combinable_in_one_visit": False,
    },
    {
        "name": "Pain and Inflammation",
        "services": ["Cryotherapy", "Red Light Therapy"],
        "sessions": 12,
        "min_sessions_per_week": 3,
        "max_sessions_per_week": 4,
        "price": Decimal("1100"),
        "validity_days": 45,
        "combinable_in_one_visit": True,
    },
    {
        "name": "Injury Recovery and Prevention",
        "services": ["Cryotherapy", "Oxygen Therapy"],
        "sessions": 10,
        "min_sessions_per_week": 2,
        "max_sessions_per_week": 3,
        "price": Decimal("880"),
        "validity_days": 60,
        "combinable_in_one_visit": False,
    },
    {
        "name": "Beauty and Skin Health",
        "services": [
            "Red Light Therapy",
            "Cryotherapy",
            "Oxygen Therapy",
            "Infrared Sauna",
        ],
        "sessions": 10,
        "min_sessions_per_week": 2,
        "max_sessions_per_week": 3,
        "price": Decimal("950"),
        "validity_days": 60,
        "combinable_in_one_visit": False,
    },
    {
        "name": "Wellbeing and Stress Relief",
        "services": ["Cryotherapy", "Oxygen Therapy", "Infrared Sauna"],
        "sessions": 10,
        "min_sessions_per_week": 2,
        "max_sessions_per_week": 3,
        "price": Decimal("920"),
        "validity_days": 60,
        "combinable_in_one_visit": False,
    },
]


def load_packages() -> int:
    """Create the missing starting packages (matched by name); returns how many."""
    created = 0
    with transaction.atomic():
        services = {s.name: s for s in Service.objects.all()}
        for spec in PACKAGES:
            fields = {k: v for k, v in spec.items() if k != "services"}
            package, new = Package.objects.get_or_create(
                name=spec["name"], defaults=fields
            )
            if new:
                package.services.set(services[name] for name in spec["services"])
                created += 1
    return created
