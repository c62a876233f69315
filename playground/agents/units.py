"""A unit converter over a fixed table: each unit is a factor to its dimension's base unit (metres,
kilograms, seconds, litres), temperatures an affine map to kelvin. Nothing the model writes is run."""

from __future__ import annotations

from playground.core.errors import InvalidInputError

FACTORS: dict[str, tuple[str, float]] = {
    "mm": ("length", 0.001), "cm": ("length", 0.01), "m": ("length", 1.0), "km": ("length", 1000.0),
    "inch": ("length", 0.0254), "foot": ("length", 0.3048), "yard": ("length", 0.9144),
    "mile": ("length", 1609.344),
    "mg": ("mass", 1e-6), "g": ("mass", 0.001), "kg": ("mass", 1.0), "tonne": ("mass", 1000.0),
    "ounce": ("mass", 0.028349523125), "pound": ("mass", 0.45359237),
    "s": ("time", 1.0), "min": ("time", 60.0), "h": ("time", 3600.0), "day": ("time", 86400.0),
    "week": ("time", 604800.0),
    "ml": ("volume", 0.001), "l": ("volume", 1.0), "cup": ("volume", 0.2365882365),
    "gallon": ("volume", 3.785411784),
}
TEMPERATURES = {"celsius": (1.0, 273.15), "fahrenheit": (5 / 9, 273.15 - 32 * 5 / 9), "kelvin": (1.0, 0.0)}
"""kelvin = scale * value + offset."""

ALIASES = {
    "millimeter": "mm", "millimetre": "mm", "centimeter": "cm", "centimetre": "cm", "meter": "m", "metre": "m",
    "kilometer": "km", "kilometre": "km", "in": "inch", "inches": "inch", "ft": "foot", "feet": "foot",
    "yd": "yard", "mi": "mile", "milligram": "mg", "gram": "g", "kilogram": "kg", "kilo": "kg", "t": "tonne",
    "ton": "tonne", "oz": "ounce", "lb": "pound", "lbs": "pound", "second": "s", "sec": "s", "minute": "min",
    "hour": "h", "hr": "h", "d": "day", "milliliter": "ml", "millilitre": "ml", "liter": "l", "litre": "l",
    "c": "celsius", "°c": "celsius", "f": "fahrenheit", "°f": "fahrenheit", "k": "kelvin",
}
UNITS = (*FACTORS, *TEMPERATURES)


def unit(name: str) -> str:
    """The table's name for a unit as a model may write it ('Kilometres', 'lbs', '°F')."""
    key = str(name or "").strip().lower()
    for candidate in (key, key.removesuffix("s"), key.removesuffix("es")):
        candidate = ALIASES.get(candidate, candidate)
        if candidate in FACTORS or candidate in TEMPERATURES:
            return candidate
    raise InvalidInputError(f"Unknown unit {name!r}: the converter knows {', '.join(UNITS)}.")


def convert(value: float, source: str, target: str) -> float:
    """``value`` in ``source`` units expressed in ``target`` units (same dimension only)."""
    start, end = unit(source), unit(target)
    if start in TEMPERATURES or end in TEMPERATURES:
        if not (start in TEMPERATURES and end in TEMPERATURES):
            raise InvalidInputError(f"Cannot convert {start} to {end}: only temperatures convert to temperatures.")
        scale, offset = TEMPERATURES[start]
        kelvin = value * scale + offset
        scale, offset = TEMPERATURES[end]
        return (kelvin - offset) / scale
    (dimension, factor), (other, to_factor) = FACTORS[start], FACTORS[end]
    if dimension != other:
        raise InvalidInputError(f"Cannot convert {start} ({dimension}) to {end} ({other}).")
    return value * factor / to_factor
