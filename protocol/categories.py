"""The category catalogue: what a report is about, who gets it by default,
how urgent it is, and how long the OPD has.

Built from the two city launches (Madiun 2019, Sumenep 2021). A site's rules
file may override the OPD, priority and SLA of any category; the codes here
are the contract and never change meaning.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Category(enum.StrEnum):
    MEDICAL = "medical"
    FIRE = "fire"
    TRAFFIC_ACCIDENT = "traffic_accident"
    NATURAL_DISASTER = "natural_disaster"
    FALLEN_TREE = "fallen_tree"
    FLOOD = "flood"
    STREET_LIGHT = "street_light"
    CRIME = "crime"
    DRUGS = "drugs"
    DOMESTIC_VIOLENCE = "domestic_violence"
    SECURITY_DISTURBANCE = "security_disturbance"
    TERRORISM = "terrorism"
    OTHER = "other"
    PRANK = "prank"
    TEST = "test"


class Priority(enum.IntEnum):
    """1 is the most urgent; ``NONE`` is never routed (prank, test)."""

    CRITICAL = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4
    NONE = 9


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    code: Category
    label_id: str
    label_en: str
    default_opds: tuple[str, ...]
    priority: Priority
    sla_ack_min: int | None
    sla_resolve_min: int | None

    @property
    def routed(self) -> bool:
        """Prank and test calls are logged and counted, never routed."""
        return self.priority is not Priority.NONE


def _c(code, label_id, label_en, opds, prio, ack, resolve) -> CategoryInfo:
    return CategoryInfo(Category(code), label_id, label_en, tuple(opds), prio, ack, resolve)


P = Priority
CATALOGUE: dict[Category, CategoryInfo] = {
    info.code: info
    for info in (
        _c("medical", "Kegawatdaruratan medis / ambulans", "Medical emergency / ambulance",
           ["dinkes"], P.CRITICAL, 5, 60),
        _c("fire", "Kebakaran", "Fire", ["damkar"], P.CRITICAL, 5, 120),
        _c("traffic_accident", "Kecelakaan lalu lintas", "Traffic accident",
           ["dinkes", "polres"], P.CRITICAL, 5, 90),
        _c("natural_disaster", "Bencana alam", "Natural disaster", ["bpbd"], P.CRITICAL, 10, 720),
        _c("fallen_tree", "Pohon tumbang", "Fallen tree", ["bpbd"], P.HIGH, 15, 240),
        _c("flood", "Banjir", "Flood", ["bpbd"], P.HIGH, 15, 720),
        _c("street_light", "Lampu penerangan jalan mati", "Street light out",
           ["dinas_pu"], P.LOW, 240, 4320),
        _c("crime", "Tindak kriminal", "Crime", ["polres"], P.HIGH, 10, 240),
        _c("drugs", "Narkoba", "Drugs", ["polres"], P.NORMAL, 60, 1440),
        _c("domestic_violence", "Kekerasan dalam rumah tangga", "Domestic violence",
           ["dp3a"], P.HIGH, 15, 1440),
        _c("security_disturbance", "Gangguan keamanan dan ketertiban", "Security disturbance",
           ["satpol_pp"], P.NORMAL, 30, 480),
        _c("terrorism", "Terorisme", "Terrorism", ["polres"], P.CRITICAL, 5, 240),
        _c("other", "Lainnya", "Other", ["operator"], P.NORMAL, 60, 1440),
        _c("prank", "Panggilan iseng", "Prank call", [], P.NONE, None, None),
        _c("test", "Panggilan uji", "Test call", [], P.NONE, None, None),
    )
}

if set(CATALOGUE) != set(Category):  # an explicit check: asserts vanish under -O
    raise RuntimeError("every category needs a catalogue entry")


def info(code: Category | str) -> CategoryInfo:
    """Catalogue entry for a code; raises ValueError for an unknown code."""
    return CATALOGUE[Category(code)]
