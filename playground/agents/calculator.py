"""A calculator over arithmetic expressions that never runs Python: ``eval`` on a model's text would run
whatever the model (or a prompt injected into a document it read) wrote.

The expression is parsed with :mod:`ast` and only a whitelist is walked: number literals, ``+ - * / // %
**``, unary minus and plus, and parentheses (which the parser folds away). Names, calls, attributes,
strings, subscripts and everything else are refused by name. Exponents and results are bounded, so
``2**10**10`` is refused before it is computed instead of freezing a shared server.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

from playground.core.errors import InvalidInputError

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
MAX_DIGITS = 1000
"""Results (and operands) above 10**1000 are refused: an answer nobody can read, and a cost that grows."""

BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
ALLOWED = "numbers, + - * / // % ** and parentheses"

Number = int | float


def calculate(expression: str) -> Number:
    """The value of an arithmetic expression, or an :class:`InvalidInputError` saying what was refused."""
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidInputError(f"The calculator needs an arithmetic expression ({ALLOWED}), such as 12 * (3 + 4).")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise InvalidInputError(f"The expression has {len(expression):,} characters; the calculator takes "
                                f"at most {MAX_EXPRESSION_CHARS}.")
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("^", "**")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise InvalidInputError(f"{expression!r} is not an arithmetic expression ({ALLOWED}): "
                                f"{error.msg}.") from error
    return _checked(_value(tree.body))


def _value(node: ast.AST) -> Number:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _checked(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        return UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        try:
            return _checked(BINARY[type(node.op)](left, right))
        except ZeroDivisionError as error:
            raise InvalidInputError("Division by zero.") from error
        except OverflowError as error:
            raise InvalidInputError("The result is too large for the calculator.") from error
    raise InvalidInputError(f"The calculator refuses {_describe(node)}: it takes only {ALLOWED}.")


def _check_power(base: Number, exponent: Number) -> None:
    """Refuse a power before computing it when its result could not be bounded cheaply."""
    if abs(exponent) > MAX_EXPONENT:
        raise InvalidInputError(f"Exponent {exponent} is too large: the calculator takes exponents up to "
                                f"{MAX_EXPONENT}.")
    if base == 0 and exponent < 0:
        raise InvalidInputError("Division by zero (zero to a negative power).")
    if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > MAX_DIGITS:
        raise InvalidInputError(f"The result would have more than {MAX_DIGITS} digits.")
    if isinstance(base, (int, float)) and base < 0 and not float(exponent).is_integer():
        raise InvalidInputError("A negative number to a fractional power is not a real number.")


def _checked(value: Number) -> Number:
    if isinstance(value, complex):
        raise InvalidInputError("The result is not a real number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError("The result is too large for the calculator.")
    if abs(value) >= 10 ** MAX_DIGITS:
        raise InvalidInputError(f"The result would have more than {MAX_DIGITS} digits.")
    return value


def _describe(node: ast.AST) -> str:
    """What a refused piece of the expression is, in words a learner recognises."""
    if isinstance(node, ast.Name):
        return f"the name {node.id!r}"
    if isinstance(node, ast.Call):
        return "function calls"
    if isinstance(node, ast.Attribute):
        return f"attribute access (.{node.attr})"
    if isinstance(node, ast.Constant):
        return f"the value {node.value!r}"
    return f"{type(node).__name__} expressions"


def formatted(value: Number) -> str:
    """A result as the model reads it: whole numbers without '.0', others to 12 significant digits."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value) if isinstance(value, int) else f"{value:.12g}"
