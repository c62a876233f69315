"""The agent's tools: the calculator evaluates arithmetic and refuses everything else (it never runs
Python); the unit converter and the tool registry check their arguments with clear messages."""

from __future__ import annotations

import datetime as dt

import pytest

from playground.agents import tools
from playground.agents.calculator import calculate, formatted
from playground.agents.units import convert
from playground.core.errors import InvalidInputError


@pytest.mark.parametrize(("expression", "expected"), [
    ("1234 * 5678", 7006652), ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("-2 ** 2", -4), ("2 ** -1", 0.5),
    ("7 // 2", 3), ("7 % 3", 1), ("7 / 2", 3.5), ("-(3 - 5)", 2), ("2 ** 3 ** 2", 512), ("1.5e3 + 1", 1501.0),
    ("3 × 4 ÷ 2", 6.0), ("2^10", 1024),
])
def test_arithmetic_is_right_with_pythons_precedence(expression, expected):
    assert calculate(expression) == expected


@pytest.mark.parametrize(("expression", "message"), [
    ("__import__('os')", "function calls"), ("os.system('ls')", "function calls"), ("x + 1", "the name 'x'"),
    ("(1).real", "attribute access"), ("'a' * 3", "the value 'a'"), ("2**10**10", "Exponent"),
    ("99**999", "more than 1000 digits"), ("", "needs an arithmetic expression"), ("   ", "needs an arithmetic"),
    ("1 / 0", "Division by zero"), ("[1, 2]", "List"), ("1 < 2", "Compare"), ("True + 1", "the value True"),
    ("lambda: 1", "Lambda"), ("1 +", "not an arithmetic expression"), ("(-8) ** 0.5", "not a real number"),
    ("1e308 * 10", "too large"), ("1" * 600, "at most 500"),
])
def test_the_calculator_refuses_anything_but_arithmetic(expression, message):
    with pytest.raises(InvalidInputError, match=message):
        calculate(expression)


def test_results_read_as_numbers():
    assert formatted(7006652) == "7006652" and formatted(6.0) == "6" and formatted(1 / 3) == "0.333333333333"


def test_units_convert_within_a_dimension_and_refuse_across():
    assert convert(5, "miles", "km") == pytest.approx(8.04672)
    assert convert(100, "°C", "F") == pytest.approx(212)
    assert convert(2, "lbs", "kilograms") == pytest.approx(0.90718474)
    with pytest.raises(InvalidInputError, match="Cannot convert km .length. to kg .mass."):
        convert(1, "km", "kg")
    with pytest.raises(InvalidInputError, match="Unknown unit 'parsec'"):
        convert(1, "parsec", "km")


def test_tools_check_their_arguments_and_say_what_is_wrong():
    context = tools.ToolContext(today=lambda: dt.date(2025, 3, 14))
    assert tools.BY_NAME["calculator"]({"expression": "6 * 7"}, context) == "42"
    assert tools.BY_NAME["current_date"]({}, context) == "2025-03-14 (Friday)"
    assert tools.BY_NAME["convert_units"]({"value": "1,000", "from_unit": "m", "to_unit": "km"},
                                          context) == "1000 m = 1 km"
    with pytest.raises(InvalidInputError, match="missing expression"):
        tools.BY_NAME["calculator"]({"expr": "1"}, context)
    with pytest.raises(InvalidInputError, match="value must be a number"):
        tools.BY_NAME["convert_units"]({"value": "lots", "from_unit": "m", "to_unit": "km"}, context)
    with pytest.raises(InvalidInputError, match="must be an object"):
        tools.BY_NAME["calculator"]("6 * 7", context)
    assert tools.BY_NAME["search_documents"]({"query": "llamas"}, context) == tools.NO_DOCUMENTS
    found = tools.ToolContext(search=lambda query, k: [("notes.md", "Llamas  hum.")])
    assert tools.BY_NAME["search_documents"]({"query": "llamas"}, found) == "[1] (notes.md) Llamas hum."


def test_the_schemas_are_in_the_function_format_and_unknown_tools_are_refused():
    schema = tools.BY_NAME["convert_units"].schema
    assert schema["type"] == "function" and schema["function"]["name"] == "convert_units"
    assert schema["function"]["parameters"]["required"] == ["value", "from_unit", "to_unit"]
    assert [t.name for t in tools.chosen_tools(["current_date", "calculator"])] == ["calculator", "current_date"]
    with pytest.raises(InvalidInputError, match="Unknown tool.*'shell'.*choose from calculator"):
        tools.chosen_tools(["shell"])
