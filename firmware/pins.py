"""Default pin assignment (BCM numbering) of the two boards.

This is the firmware's side of the pin map; ``hardware/schematics/pinmap.yaml``
is the schematic's side, and a test checks that the two agree. Reserved: the
UART (GPIO14/15) talks to the modem, I2C (GPIO2/3) is kept for a sensor or RTC
hat, SPI0 (GPIO7-11) is left free.
"""

from __future__ import annotations

from types import MappingProxyType

#: profile -> role -> BCM pin
DEFAULT_PINS = MappingProxyType({
    "field": MappingProxyType({
        "button_medical": 17,
        "button_fire": 27,
        "button_security": 22,
        "led_recorded": 23,
        "led_delivered": 24,
        "led_fault": 25,
        "buzzer": 18,
        "modem_reset": 4,
        "door_tamper": 5,
        "mains_ok": 6,
        "battery_low": 13,
        "load_sense": 12,  # low while an LED or the buzzer draws current (self-test)
    }),
    "panel": MappingProxyType({
        "button_answer": 17,
        "button_hangup": 27,
        "button_cat_medical": 22,
        "button_cat_fire": 5,
        "button_cat_accident": 6,
        "button_cat_disaster": 12,
        "button_cat_security": 13,
        "button_cat_prank": 16,
        "button_cat_other": 19,
        "button_type_ghost": 26,
        "led_ring": 23,
        "led_active": 24,
        "led_fault": 25,
        "led_delivered": 20,
        "led_flagged": 21,
        "buzzer": 18,
        "modem_reset": 4,
    }),
})

#: pins no role may take: UART to the modem, I2C, SPI0
RESERVED_PINS = MappingProxyType({
    2: "I2C SDA", 3: "I2C SCL",
    14: "UART TXD (modem RX)", 15: "UART RXD (modem TX)",
    7: "SPI CE1", 8: "SPI CE0", 9: "SPI MISO", 10: "SPI MOSI", 11: "SPI SCLK",
})
