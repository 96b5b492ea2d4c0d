r"""A parser for user-written expressions that never runs the text as Python.

The text is split into tokens by one regular expression and read by a small recursive-descent
parser; the SymPy objects are built directly (``sp.Integer``, ``sp.Rational``, ``sp.Symbol``,
``sp.Add``, ``sp.Mul``, ``sp.Pow`` and a fixed table of functions). Nothing is handed to
``eval``, ``sympify`` or ``parse_expr``, so attributes, calls of arbitrary names, strings,
subscripts and keywords cannot even be written.

Grammar (``^`` and ``**`` are the same operator; juxtaposition multiplies, as in ``2k``,
``k T`` or ``2(k + 1)``, but a name directly followed by ``(`` must be one of the functions, so
that ``asin(x)`` is refused instead of read as ``asin*x``)::

    expression := ['+' | '-']* term (('+' | '-') ['+' | '-']* term)*
    term       := power (('*' | '/') ['+' | '-']* power | <juxtaposition> power)*
    power      := atom (('^' | '**') ['+' | '-']* atom)*         (right-associative)
    atom       := NUMBER | NAME | FUNCTION '(' expression [',' expression] ')'
                  | '(' expression ')'

Limits, each refused with a :class:`~stochthermo.errors.ValidationError` before any work:
``MAX_LENGTH`` characters, ``MAX_DEPTH`` nested parentheses (counted by a linear scan before
parsing), ``MAX_NAME_LENGTH`` characters per name, ``MAX_SYMBOLS`` distinct names per model,
numeric exponents of absolute value at most ``MAX_EXPONENT``, exact numbers of at most
``MAX_BITS`` bits (``MAX_ROOT_BITS`` under a fractional power), arguments of
``exp``/``sinh``/``cosh`` at most ``MAX_EXP_ARG`` in absolute value, powers of sums expanding to
at most ``MAX_TERMS`` terms, expression trees at most ``MAX_TREE_DEPTH`` deep. So
``9**9**9**9`` or ``2**(2**64)`` are answered at once instead of computing a number with
billions of digits.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
import sympy as sp

from .._validation import short_repr
from ..errors import ShapeError, ValidationError

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "parse_expression",
    "parse_matrix",
    "check_expression",
    "FUNCTIONS",
    "CONSTANTS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_NAME_LENGTH",
    "MAX_SYMBOLS",
    "MAX_EXPONENT",
    "MAX_BITS",
    "MAX_ROOT_BITS",
    "MAX_EXP_ARG",
    "MAX_TREE_DEPTH",
    "MAX_TERMS",
    "expanded_terms",
]

#: longest accepted expression (characters); a whole matrix string may be ``MAX_LENGTH * 64``
MAX_LENGTH = 2000
#: deepest accepted nesting of parentheses (and brackets in a matrix string)
MAX_DEPTH = 50
#: longest accepted name
MAX_NAME_LENGTH = 64
#: most distinct symbols in one model (all matrices of one derivation together)
MAX_SYMBOLS = 100
#: largest accepted absolute value of a numeric exponent (``k^1000`` is fine, ``2^1001`` not)
MAX_EXPONENT = 1000
#: largest accepted exact number, in bits of its numerator or denominator (about 6000 digits)
MAX_BITS = 20_000
#: largest exact number, in bits, of which a fractional power is taken (``sqrt(n)`` factors n)
MAX_ROOT_BITS = 512
#: largest accepted absolute value of a numeric argument of exp, sinh, cosh
MAX_EXP_ARG = 1000
#: most terms an expression may expand to (``(a + b + c)^60`` has 1891, ``(a + b + c)^1000`` 501501)
MAX_TERMS = 5000
#: deepest accepted SymPy expression tree
MAX_TREE_DEPTH = 120

#: function name -> (SymPy function, accepted numbers of arguments)
FUNCTIONS = {
    "sqrt": (sp.sqrt, (1,)),
    "exp": (sp.exp, (1,)),
    "log": (sp.log, (1, 2)),
    "sin": (sp.sin, (1,)),
    "cos": (sp.cos, (1,)),
    "tan": (sp.tan, (1,)),
    "sinh": (sp.sinh, (1,)),
    "cosh": (sp.cosh, (1,)),
    "tanh": (sp.tanh, (1,)),
    "Abs": (sp.Abs, (1,)),
    "Rational": (None, (1, 2)),
}
#: names that denote constants rather than symbols
CONSTANTS = {"pi": sp.pi, "E": sp.E}

_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\n]+)"
    r"|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^(),])"
)


class _Refused(Exception):
    """Internal: the parser refuses the text; turned into a ValidationError with the name."""


def _scan_depth(s: str, limit: int = MAX_DEPTH) -> None:
    """Linear scan: refuse unbalanced or too deeply nested brackets (before any recursion)."""
    depth = 0
    for ch in s:
        if ch in "([":
            depth += 1
            if depth > limit:
                raise _Refused(f"nests brackets more than {limit} deep")
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                raise _Refused("has a closing bracket without an opening one")
    if depth:
        raise _Refused("has an opening bracket that is never closed")


def _tokenize(s: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    n = len(s)
    while pos < n:
        m = _TOKEN.match(s, pos)
        if m is None:
            ch = s[pos]
            raise _Refused(
                f"contains the character {ch!r} at position {pos}, which is not allowed; use "
                "numbers, names, + - * / ^ **, parentheses and the functions "
                + ", ".join(FUNCTIONS)
            )
        kind = cast(str, m.lastgroup)  # every alternative of _TOKEN is a named group
        if kind == "num" and m.group().endswith(".") and m.end() < n \
                and (s[m.end()].isalnum() or s[m.end()] in "._"):
            raise _Refused(
                f"has {s[pos:m.end() + 1]!r} at position {pos}: a '.' is only allowed inside a "
                "number, as in 0.5"
            )
        if kind != "ws":
            out.append((kind, m.group(), pos))
        pos = m.end()
    return out


def _number(text: str) -> sp.Rational:
    """A decimal literal as an exact rational (``0.1 -> 1/10``, ``1e-3 -> 1/1000``)."""
    mant, _, exp = text.lower().partition("e")
    e = int(exp) if exp else 0
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0") or "0"
    e -= len(frac)
    if len(digits) + abs(e) > MAX_BITS * 0.3:
        raise _Refused(f"has the number {text!r}, which is too large (over {MAX_BITS} bits)")
    if abs(e) > MAX_EXPONENT + len(digits) + 20:
        raise _Refused(f"has the number {text!r}, whose decimal exponent is out of range")
    val = int(digits)
    return sp.Integer(val * 10**e) if e >= 0 else sp.Rational(val, 10**-e)


def _bits(q: sp.Rational) -> int:
    return max(int(q.p).bit_length(), int(q.q).bit_length())


def _magnitude(expr) -> float | None:
    """|value| of a numeric expression (built only from bounded parts, so evalf is cheap)."""
    try:
        val = complex(sp.N(expr, 15))
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return abs(val)


def _check_number(expr) -> None:
    if isinstance(expr, sp.Rational) and _bits(expr) > MAX_BITS:
        raise _Refused(f"evaluates to a number with more than {MAX_BITS} bits")


def _power(base, exponent):
    if any(exponent.has(x) for x in (sp.zoo, sp.oo, sp.nan)):
        raise _Refused("has an exponent that is not finite (a division by zero?)")
    if exponent.is_number:
        mag: float | None
        if isinstance(exponent, sp.Rational):
            mag = abs(float(exponent))
        else:
            mag = _magnitude(exponent)
        if mag is None or not mag <= MAX_EXPONENT:
            raise _Refused(
                f"raises to the power {_short(exponent)}, larger than {MAX_EXPONENT} in absolute "
                "value; give the number itself or a symbol instead"
            )
        if isinstance(base, sp.Rational) and isinstance(exponent, sp.Rational) \
                and not isinstance(exponent, sp.Integer) and _bits(base) > MAX_ROOT_BITS:
            raise _Refused(
                f"takes a fractional power of a number with more than {MAX_ROOT_BITS} bits "
                "(finding its exact roots is slow); give a symbol or a smaller number instead"
            )
        if isinstance(base, sp.Rational) and isinstance(exponent, sp.Rational):
            need = _bits(base) * mag
            if need > MAX_BITS:
                raise _Refused(
                    f"asks for {_short(base)}^{_short(exponent)}, a number of about {int(need)} "
                    f"bits, more than {MAX_BITS}; give a symbol or a smaller number instead"
                )
    out = sp.Pow(base, exponent)
    if isinstance(out, sp.Pow) and isinstance(out.exp, sp.Integer) and abs(out.exp) > MAX_EXPONENT:
        raise _Refused(f"builds the power {_short(out)}, whose exponent exceeds {MAX_EXPONENT}")
    if out.free_symbols and expanded_terms(out, MAX_TERMS + 1) > MAX_TERMS:
        raise _Refused(
            f"builds {_short(out)}, which expands to more than {MAX_TERMS} terms; give a "
            "shorter expression or a new symbol for the power"
        )
    _check_number(out)
    return out


def expanded_terms(expr, cap: int = 10**9) -> int:
    """Upper estimate of the number of terms of ``expr`` once expanded as a polynomial.

    Numbers, symbols and function values count 1; sums add, products multiply, an integer power
    ``b^n`` of a sum of ``t`` terms counts ``C(|n| + t - 1, t - 1)`` (the monomials of degree
    ``n`` in ``t`` variables). Capped at ``cap``.
    """
    if isinstance(expr, sp.Add):
        return min(cap, sum(expanded_terms(a, cap) for a in expr.args))
    if isinstance(expr, sp.Mul):
        out = 1
        for a in expr.args:
            out = min(cap, out * expanded_terms(a, cap))
        return out
    if isinstance(expr, sp.Pow) and isinstance(expr.exp, sp.Integer):
        t = expanded_terms(expr.base, cap)
        if t <= 1:
            return 1
        k = min(abs(int(expr.exp)), MAX_EXPONENT)
        return min(cap, math.comb(k + t - 1, t - 1)) if t < 64 else cap
    return 1


def _short(expr) -> str:
    s = sp.sstr(expr) if not isinstance(expr, sp.Integer) or _bits(expr) < 200 else "<big number>"
    return s if len(s) <= 40 else s[:37] + "..."


def _call(fname: str, args: list):
    func, arity = FUNCTIONS[fname]
    if len(args) not in arity:
        want = " or ".join(str(a) for a in arity)
        raise _Refused(f"calls {fname}() with {len(args)} arguments; it takes {want}")
    if fname == "Rational":
        if len(args) == 1:
            return args[0]
        num, den = args
        if den == 0:
            raise _Refused("divides by zero in Rational(p, 0)")
        return sp.Mul(num, _power(den, sp.Integer(-1)))
    if fname == "sqrt":
        return _power(args[0], sp.Rational(1, 2))
    if fname in ("exp", "sinh", "cosh") and args[0].is_number:
        mag = _magnitude(args[0])
        if mag is None or not mag <= MAX_EXP_ARG:
            raise _Refused(
                f"calls {fname}({_short(args[0])}), whose argument exceeds {MAX_EXP_ARG} in "
                "absolute value"
            )
    return func(*args)


class _Parser:
    """Recursive descent over the token list; recursion only through parentheses (<= MAX_DEPTH)."""

    def __init__(self, tokens, symbols: dict):
        self.toks = tokens
        self.i = 0
        self.symbols = symbols

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, -1)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, op):
        kind, text, pos = self.take()
        if kind != "op" or text != op:
            where = "the end" if kind is None else f"{text!r} at position {pos}"
            raise _Refused(f"expects {op!r} but found {where}")

    def parse(self):
        if not self.toks:
            raise _Refused("is empty")
        expr = self.expression()
        kind, text, pos = self.peek()
        if kind is not None:
            raise _Refused(f"has the unexpected {text!r} at position {pos}")
        return expr

    def _signs(self) -> int:
        sign = 1
        while True:
            kind, text, _ = self.peek()
            if kind == "op" and text in "+-" and len(text) == 1:
                self.i += 1
                sign = -sign if text == "-" else sign
            else:
                return sign

    def expression(self):
        terms = []
        sign = self._signs()
        terms.append(self._signed(sign, self.term()))
        while True:
            kind, text, _ = self.peek()
            if kind == "op" and text in ("+", "-"):
                self.i += 1
                sign = (-1 if text == "-" else 1) * self._signs()
                terms.append(self._signed(sign, self.term()))
            else:
                break
        out = sp.Add(*terms) if len(terms) > 1 else terms[0]
        _check_number(out)
        return out

    @staticmethod
    def _signed(sign, expr):
        return expr if sign > 0 else sp.Mul(sp.Integer(-1), expr)

    def term(self):
        factors = [self.power()]
        while True:
            kind, text, _ = self.peek()
            if kind == "op" and text in ("*", "/"):
                self.i += 1
                f = self._signed(self._signs(), self.power())  # 2*-3, as in Python
                factors.append(f if text == "*" else _power(f, sp.Integer(-1)))
            elif kind in ("num", "name") or (kind == "op" and text == "("):
                factors.append(self.power())  # implicit multiplication: 2k, 2(k + 1), (a)(b)
            else:
                break
        out = sp.Mul(*factors) if len(factors) > 1 else factors[0]
        _check_number(out)
        return out

    def power(self):
        operands = [self.atom()]
        signs = []
        while True:
            kind, text, _ = self.peek()
            if kind == "op" and text in ("^", "**"):
                self.i += 1
                signs.append(self._signs())
                operands.append(self.atom())
                if len(operands) > MAX_DEPTH:
                    raise _Refused(f"chains more than {MAX_DEPTH} powers")
            else:
                break
        # right-associative, as in Python: a^b^c = a^(b^c); a sign binds to its own operand
        out = operands[-1]
        for k in range(len(operands) - 2, -1, -1):
            exp = out if signs[k] > 0 else sp.Mul(sp.Integer(-1), out)
            out = _power(operands[k], exp)
        return out

    def atom(self):
        kind, text, pos = self.take()
        if kind == "num":
            return _number(text)
        if kind == "name":
            return self.name(text, pos)
        if kind == "op" and text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        where = "the end" if kind is None else f"{text!r} at position {pos}"
        raise _Refused(f"expects a number, a name or '(' but found {where}")

    def name(self, text, pos):
        if text in FUNCTIONS:
            kind, nxt, _ = self.peek()
            if kind != "op" or nxt != "(":
                raise _Refused(f"uses the function name {text!r} without '(...)' after it")
            self.i += 1
            args = [self.expression()]
            while self.peek()[1] == ",":
                self.i += 1
                args.append(self.expression())
            self.expect(")")
            return _call(text, args)
        if self.peek()[:2] == ("op", "("):
            raise _Refused(
                f"calls {text!r}, which is not one of the functions {', '.join(FUNCTIONS)}; "
                f"write {text}*(...) for a product"
            )
        if text in CONSTANTS:
            return CONSTANTS[text]
        if keyword.iskeyword(text):
            raise _Refused(f"uses the reserved word {text!r} as a name")
        if "__" in text:
            raise _Refused(f"uses the name {text!r}; names may not contain '__'")
        if len(text) > MAX_NAME_LENGTH:
            raise _Refused(f"has a name of {len(text)} characters (at most {MAX_NAME_LENGTH})")
        sym = self.symbols.get(text)
        if sym is None:
            if len(self.symbols) >= MAX_SYMBOLS:
                raise _Refused(f"introduces more than {MAX_SYMBOLS} distinct symbols")
            sym = self.symbols[text] = sp.Symbol(text, real=True)
        return sym


def _tree_depth(expr, limit: int) -> int:
    """Depth of a SymPy tree, computed without recursion; stops once past ``limit``."""
    stack = [(expr, 1)]
    deepest = 0
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        stack.extend((a, d + 1) for a in node.args)
    return deepest


def check_expression(expr, name: str = "expression", *, text=None) -> sp.Expr:
    """Refuse a SymPy object that is not a finite, real-valued scalar expression of bounded size.

    Checks: a scalar :class:`sympy.Expr` (not a matrix, tuple or boolean); tree depth at most
    ``MAX_TREE_DEPTH``; integer exponents at most ``MAX_EXPONENT``; exact numbers at most
    ``MAX_BITS`` bits; no ``zoo``, ``oo`` or ``nan`` (from ``1/0`` or ``0/0``); not complex
    (``sqrt(-1)``, ``log(-1)``). Realness that depends on the symbols (``sqrt(k)``) is left to
    the derivation, which states it as an assumption.
    """
    shown = short_repr(text if text is not None else expr)
    if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixBase):
        raise ValidationError(f"{name}={shown} is not a scalar expression")
    if _tree_depth(expr, MAX_TREE_DEPTH) > MAX_TREE_DEPTH:
        raise ValidationError(
            f"{name}={shown} is nested more than {MAX_TREE_DEPTH} levels deep; simplify it"
        )
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and isinstance(node.exp, sp.Integer) \
                and abs(node.exp) > MAX_EXPONENT:
            raise ValidationError(
                f"{name}={shown} has the exponent {_short(node.exp)}, larger than {MAX_EXPONENT}"
            )
        if isinstance(node, sp.Rational) and _bits(node) > MAX_BITS:
            raise ValidationError(f"{name}={shown} has a number with more than {MAX_BITS} bits")
        if node in (sp.zoo, sp.oo, -sp.oo, sp.nan) or isinstance(node, sp.Float) and \
                not np.isfinite(float(node)):
            raise ValidationError(
                f"{name}={shown} is not finite (it evaluates to {node}, e.g. from a division "
                "by zero); give a finite value"
            )
    if expr.free_symbols and expanded_terms(expr, MAX_TERMS + 1) > MAX_TERMS:
        raise ValidationError(
            f"{name}={shown} expands to more than {MAX_TERMS} terms; give a shorter expression"
        )
    if expr.is_number and expr.is_real is False or expr.has(sp.I):
        raise ValidationError(
            f"{name}={shown} is complex ({_short(expr)}); entries must be real"
        )
    return expr


def parse_expression(text: Any, name: str = "expression", symbols: dict | None = None) -> sp.Expr:
    r"""Parse one scalar expression without executing anything.

    Parameters
    ----------
    text : str, int, float or sympy.Expr
        The expression. Strings follow the grammar of this module: numbers (``3``, ``0.1``,
        ``1e-3``, read as exact rationals: ``0.1 -> 1/10``), names (every name becomes a real
        :class:`sympy.Symbol` of that name, except ``pi`` and ``E``), ``+ - * /``, powers
        ``^`` or ``**`` (right-associative), parentheses, juxtaposition as multiplication
        (``2k``, ``2(k + 1)``) and the functions ``sqrt, exp, log, sin, cos, tan, sinh, cosh,
        tanh, Abs, Rational``. Attributes, subscripts, strings, keywords and calls of any other
        name are refused.
    name : str
        What the text is (for example ``"A[0][1]"``), used in error messages.
    symbols : dict, optional
        Name -> symbol map shared between the entries of one model (filled in place).

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValidationError
        For text outside the grammar, or beyond the limits in the module notes (length
        ``MAX_LENGTH``, nesting ``MAX_DEPTH``, exponents ``MAX_EXPONENT``, numbers ``MAX_BITS``,
        ``MAX_SYMBOLS`` names of at most ``MAX_NAME_LENGTH`` characters), for values that are not
        finite (``1/0``) or complex (``sqrt(-1)``), and for booleans and other types.

    Examples
    --------
    >>> from stochthermo.symbolic import parse_expression
    >>> parse_expression("0.1*k^2 + 2(k + 1)")
    k**2/10 + 2*k + 2
    """
    symbols = {} if symbols is None else symbols
    if isinstance(text, sp.Basic):
        return check_expression(text, name)
    if isinstance(text, (bool, np.bool_)):
        raise ValidationError(f"{name}={text!r} is a boolean, not a number or expression")
    if isinstance(text, (int, np.integer)):
        if int(text).bit_length() > MAX_BITS:
            raise ValidationError(f"{name} is an integer with more than {MAX_BITS} bits")
        return sp.Integer(int(text))
    if isinstance(text, (float, np.floating)):
        if not np.isfinite(text):
            raise ValidationError(f"{name} contains the non-finite value {text!r}")
        return sp.Rational(repr(float(text)))  # shortest decimal that round-trips: 0.1 -> 1/10
    if not isinstance(text, str):
        raise ValidationError(
            f"{name}={short_repr(text)} has the type {type(text).__name__}; it must be a number, "
            "a SymPy expression or a string"
        )
    if len(text) > MAX_LENGTH:
        raise ValidationError(
            f"{name} is {len(text)} characters long (at most {MAX_LENGTH}); simplify it or "
            "give numbers"
        )
    s = text.strip()
    if not s:
        raise ValidationError(f"{name} is an empty expression")
    trial = dict(symbols)
    try:
        _scan_depth(s)
        expr = _Parser(_tokenize(s), trial).parse()
    except _Refused as exc:
        raise ValidationError(f"{name}={short_repr(text)} {exc}") from None
    expr = check_expression(expr, name, text=text)
    symbols.update(trial)
    return expr


def _split_top(s: str, name: str) -> list[str]:
    """Split ``[x, y, [..]]`` at top-level commas; returns the item texts."""
    s = s.strip()
    if not (s.startswith("[") and s.endswith("]")):
        raise ValidationError(
            f"{name}={short_repr(s)} must be a bracketed list like [[a, b], [c, d]]"
        )
    body, items, depth, start = s[1:-1], [], 0, 0
    for k, ch in enumerate(body):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth < 0:
                raise ValidationError(f"{name}={short_repr(s)} has unbalanced brackets")
        elif ch == "," and depth == 0:
            items.append(body[start:k])
            start = k + 1
    if depth != 0:
        raise ValidationError(f"{name}={short_repr(s)} has unbalanced brackets")
    items.append(body[start:])
    return [i.strip() for i in items if i.strip() != ""]


def parse_matrix(value: Any, name: str = "matrix", symbols: dict | None = None) -> sp.Matrix:
    """Turn user input into a square :class:`sympy.Matrix` of checked entries.

    Accepts a SymPy matrix, a nested list (of numbers, expressions or strings, each read by
    :func:`parse_expression`) or a string such as ``"[[k, 1], [0, 2*k]]"``; scalars become 1x1.
    A matrix string may be at most ``MAX_LENGTH * 64`` characters and nest brackets at most
    ``MAX_DEPTH`` deep.
    """
    symbols = {} if symbols is None else symbols
    if isinstance(value, sp.MatrixBase):
        rows = value.tolist()
    elif isinstance(value, str) and value.strip().startswith("["):
        if len(value) > MAX_LENGTH * 64:
            raise ValidationError(
                f"{name} is {len(value)} characters long (at most {MAX_LENGTH * 64})"
            )
        try:
            _scan_depth(value)
        except _Refused as exc:
            raise ValidationError(f"{name}={short_repr(value)} {exc}") from None
        outer = _split_top(value, name)
        if outer and outer[0].startswith("["):
            rows = [_split_top(r, name) for r in outer]
        else:
            rows = [outer]
    elif isinstance(value, np.ndarray):
        if np.iscomplexobj(value):
            raise ValidationError(f"{name} is a complex array; entries must be real")
        rows = value.tolist() if value.ndim == 2 else [[v] for v in np.atleast_1d(value)]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = list(value)
        if items and all(isinstance(r, Sequence | np.ndarray) and not isinstance(r, str)
                         for r in items):
            rows = [list(r) for r in items]
        elif len(items) == 1:
            rows = [items]
        else:
            raise ShapeError(
                f"{name}={short_repr(value)} must be a square matrix (a list of rows), got a "
                "flat list"
            )
    else:
        rows = [[value]]
    n = len(rows)
    if n == 0 or any(len(r) != n for r in rows):
        raise ShapeError(
            f"{name} must be a square matrix, got rows of lengths {[len(r) for r in rows]}"
        )
    return sp.Matrix(
        [[parse_expression(e, f"{name}[{i}][{j}]", symbols) for j, e in enumerate(r)]
         for i, r in enumerate(rows)]
    )
