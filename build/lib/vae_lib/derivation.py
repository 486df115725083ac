"""Checking derivations with sympy: each line is an expression, each step an equality to prove.

`book/04_kl_derivation.ipynb` walks through the derivation of log p(x) = KL(q || p(z|x)) + ELBO
and checks every line with `assert_step`; `book/06_gaussian_kl.ipynb` uses `normal_pdf` and
`normal_expectation` for the closed-form KL. A step holds when the difference of its two sides,
put into a canonical form (substitution rules applied, logarithms of positive quantities
expanded, integrals split by linearity, then `sympy.simplify`), is exactly zero. That is a
proof, not a numerical spot check: a step whose difference does not simplify to zero fails, and
the message says what is left over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import NamedTuple

import sympy as sp

__all__ = [
    "DerivationError",
    "StepCheck",
    "assert_chain",
    "assert_step",
    "canonical",
    "check_step",
    "normal_expectation",
    "normal_pdf",
]

Rules = Mapping[sp.Basic, sp.Basic] | None


class DerivationError(AssertionError):
    """A step of a derivation that sympy could not prove (`book/04_kl_derivation.ipynb`)."""


class StepCheck(NamedTuple):
    """The outcome of checking lhs = rhs: `difference` is canonical(lhs - rhs), 0 when it holds.

    Printed by the checks of `book/04_kl_derivation.ipynb`.
    """

    label: str
    holds: bool
    difference: sp.Expr

    def __str__(self) -> str:
        if self.holds:
            return f"{self.label}: holds (lhs - rhs simplifies to 0)"
        return f"{self.label}: FAILS (lhs - rhs simplifies to {self.difference}, not 0)"


def _split_integral(integral: sp.Integral) -> sp.Expr:
    """Linearity: the integral of a sum is the sum of integrals, and constants come outside."""
    variables = set(integral.variables)
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(integral.function)):
        constant, rest = term.as_independent(*variables, as_Add=False)
        piece = _measure(integral) if rest == 1 else sp.Integral(rest, *integral.limits)
        total += constant * piece
    return total


def _measure(integral: sp.Integral) -> sp.Expr:
    """The integral of 1 over the same limits (left unevaluated when infinite)."""
    return sp.Integral(sp.Integer(1), *integral.limits)


def canonical(expr: sp.Expr, rules: Rules = None) -> sp.Expr:
    """Put an expression into the canonical form the checks compare.

    1. apply `rules`, a mapping of substitutions such as Bayes' rule {p(z|x): p(z,x) / p(x)} or
       a normalisation {Integral(q(z), (z, -oo, oo)): 1}; they are applied again after step 3;
    2. expand logarithms: log(a b) = log a + log b and log(a / b) = log a - log b, which sympy
       only does when it knows a and b are positive (declare symbols and functions positive);
    3. split integrals by linearity and take constants outside them;
    4. `sympy.simplify`, with the remaining integrals held fixed as atoms, then `sympy.expand`
       so that the same difference always prints the same way.
    """
    rules = dict(rules or {})
    expr = sp.sympify(expr)
    if rules:
        expr = expr.subs(rules)
    expr = sp.expand(sp.expand_log(expr))
    expr = expr.replace(
        lambda e: isinstance(e, sp.Integral),
        lambda e: _split_integral(
            sp.Integral(sp.expand(sp.expand_log(e.function)), *e.limits)
        ),
    )
    if rules:
        expr = expr.subs(rules)
    # Integrals are now atoms in canonical form: stand-ins keep sympy.simplify from trying (slowly,
    # and in vain) to evaluate integrals of unknown functions.
    stand_ins = {
        integral: sp.Dummy(f"integral{i}", real=True)
        for i, integral in enumerate(sorted(expr.atoms(sp.Integral), key=sp.default_sort_key))
    }
    simplified = sp.expand(sp.simplify(expr.xreplace(stand_ins)))  # expanded: prints the same
    return simplified.xreplace({dummy: integral for integral, dummy in stand_ins.items()})


def check_step(lhs: sp.Expr, rhs: sp.Expr, label: str = "step", rules: Rules = None) -> StepCheck:
    """Check one step lhs = rhs; the result says whether it holds and what difference is left."""
    difference = canonical(sp.sympify(lhs) - sp.sympify(rhs), rules)
    return StepCheck(label, difference == 0, difference)


def assert_step(lhs: sp.Expr, rhs: sp.Expr, label: str = "step", rules: Rules = None) -> StepCheck:
    """`check_step`, raising `DerivationError` (an AssertionError) when the step does not hold."""
    result = check_step(lhs, rhs, label, rules)
    if not result.holds:
        raise DerivationError(str(result))
    return result


def assert_chain(
    lines: Sequence[sp.Expr], labels: Sequence[str] | None = None, rules: Rules = None
) -> list[StepCheck]:
    """Check that each line of a chain equals the next: lines[0] = lines[1] = ... = lines[-1].

    `labels[i]` names the step from line i to line i+1. Raises `DerivationError` at the first
    step that fails, naming it.
    """
    if len(lines) < 2:
        raise ValueError("a chain needs at least two lines")
    if labels is None:
        labels = [f"line {i} = line {i + 1}" for i in range(len(lines) - 1)]
    if len(labels) != len(lines) - 1:
        raise ValueError(
            f"{len(lines)} lines make {len(lines) - 1} steps, got {len(labels)} labels"
        )
    return [
        assert_step(a, b, label, rules)
        for a, b, label in zip(lines[:-1], lines[1:], labels, strict=True)
    ]


def normal_pdf(x: sp.Expr, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """The density of N(mean, var) at x, as a sympy expression."""
    return sp.exp(-((x - mean) ** 2) / (2 * var)) / sp.sqrt(2 * sp.pi * var)


_U = sp.Dummy("u", real=True)


@cache
def _standard_normal_moment(k: int) -> sp.Expr:
    """E[u^k] for u ~ N(0, 1), by sympy's own integration: 1, 0, 1, 0, 3, ..."""
    return sp.integrate(_U**k * normal_pdf(_U, 0, 1), (_U, -sp.oo, sp.oo))


def normal_expectation(expr: sp.Expr, z: sp.Symbol, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """E[expr] for z ~ N(mean, var): the integral of normal_pdf(z, mean, var) * expr over the line.

    Works for what the VAE derivations need: expressions that become polynomials in z once
    logarithms of Gaussian densities are expanded (log N(z; a, b) is quadratic in z). The
    substitution z = mean + sqrt(var) u turns the integral into sums of standard normal moments
    E[u^k], each integrated by sympy; this is exact and much faster than asking sympy for the
    integral with symbolic mean and variance in one go. Raises ValueError for other integrands.
    """
    shifted = sp.expand(sp.expand_log(sp.sympify(expr).subs(z, mean + sp.sqrt(var) * _U)))
    try:
        poly = sp.Poly(shifted, _U)
    except sp.PolynomialError:
        raise ValueError(
            f"normal_expectation: {expr} is not a polynomial in {z} after expanding logarithms"
        ) from None
    return sp.expand(sum(coeff * _standard_normal_moment(k) for (k,), coeff in poly.terms()))
