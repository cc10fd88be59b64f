"""The studio's starting catalogue: categories, contraindications and services."""

from decimal import Decimal

from django.db import transaction

from .models import Contraindication, Service, ServiceCategory

CONTRAINDICATIONS = {
    "Pregnancy": "Pregnant or possibly pregnant.",
    "Raynaud's syndrome": "Abnormal narrowing of blood vessels in the cold.",
    "Cold urticaria": "Hives or swelling on exposure to cold.",
    "Uncontrolled hypertension": "Blood pressure above 160/100 or untreated.",
    "Heart condition": "Recent heart attack, pacemaker, arrhythmia or heart failure.",
    "Photosensitivity": "Light-sensitive skin or photosensitising medication.",
    "Epilepsy": "Seizures, including light-triggered ones.",
    "Active cancer": "Cancer under treatment or not in remission.",
    "Collapsed lung history": "A past pneumothorax or recent chest surgery.",
    "Ear or sinus condition": "Ear infection, blocked sinuses or recent ear surgery.",
    "Fever": "A temperature above 38 °C on the day.",
}

SERVICES = [
    {
        "name": "Cryotherapy",
        "category": "Cold therapy",
        "price": Decimal("65"),
        "duration_minutes": 15,
        "description": "Whole-body cryotherapy at -110 °C for up to three minutes.",
        "benefits": (
            "Reduces inflammation\nSpeeds muscle recovery\nRaises energy and mood"
        ),
        "preparation_instructions": (
            "Come with dry skin, no lotions. Remove jewellery. Bring dry socks; "
            "gloves, slippers and a headband are provided."
        ),
        "contraindications": [
            "Pregnancy",
            "Raynaud's syndrome",
            "Cold urticaria",
            "Uncontrolled hypertension",
            "Heart condition",
        ],
    },
    {
        "name": "Red Light Therapy",
        "category": "Light therapy",
        "price": Decimal("45"),
        "duration_minutes": 20,
        "description": "Full-body red and near-infrared light panels.",
        "benefits": "Improves skin tone and collagen\nEases joint pain\nSupports sleep",
        "preparation_instructions": "Clean skin without make-up or sunscreen.",
        "contraindications": [
            "Photosensitivity",
            "Epilepsy",
            "Active cancer",
            "Pregnancy",
        ],
    },
    {
        "name": "Oxygen Therapy",
        "category": "Oxygen therapy",
        "price": Decimal("40"),
        "duration_minutes": 60,
        "description": "Mild hyperbaric oxygen chamber session.",
        "benefits": "Supports healing and recovery\nImproves focus\nReduces fatigue",
        "preparation_instructions": (
            "No perfume, deodorant sprays or electronics in the chamber. Equalise "
            "your ears as the pressure rises."
        ),
        "contraindications": [
            "Collapsed lung history",
            "Ear or sinus condition",
            "Fever",
        ],
    },
    {
        "name": "Infrared Sauna",
        "category": "Heat therapy",
        "price": Decimal("55"),
        "duration_minutes": 45,
        "description": "Private far-infrared sauna cabin.",
        "benefits": "Relaxes muscles\nReduces stress\nSupports circulation",
        "preparation_instructions": "Drink water before and after. Bring a towel.",
        "contraindications": [
            "Pregnancy",
            "Heart condition",
            "Fever",
            "Uncontrolled hypertension",
        ],
    },
]


def load_services() -> dict[str, int]:
    """Create the catalogue's missing rows; existing ones (matched by name) are kept as
    staff edited them. Returns how many of each kind were created."""
    created = {"contraindications": 0, "categories": 0, "services": 0}
    with transaction.atomic():
        conditions = {}
        for name, description in CONTRAINDICATIONS.items():
            conditions[name], new = Contraindication.objects.get_or_create(
                name=name, defaults={"description": description}
            )
            created["contraindications"] += new
        for spec in SERVICES:
            category, new = ServiceCategory.objects.get_or_create(name=spec["category"])
            created["categories"] += new
            fields = {
                k: v
                for k, v in spec.items()
                if k not in ("category", "contraindications")
            }
            service, new = Service.objects.get_or_create(
                name=spec["name"], defaults={**fields, "category": category}
            )
            if new:
                service.contraindications.set(
                    conditions[c] for c in spec["contraindications"]
                )
                created["services"] += 1
    return created
