"""Checking derivations with sympy: each line is an expression, each step an equality to prove.

`book/04_kl_derivation.ipynb` walks through the derivation of log p(x) = KL(q || p(z|x)) + ELBO
and checks every line with `assert_step`; `book/06_gaussian_kl.ipynb` uses `normal_pdf` for the
closed-form KL. `integrate_against` evaluates the concrete lines of chapter 4 against the density
itself, so no step gets a fact (such as the integral of q being 1) for free, and `latex` prints
the displayed lines of chapters 4 to 6 from the very expressions that were checked.

A step holds when the difference of its two sides, put into a canonical form (substitution
rules applied, logarithms of positive quantities expanded, integrals split by linearity, then
`sympy.simplify`), is exactly zero. That is a
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
    "determinant_lemma_check",
    "integrate_against",
    "latex",
    "normal_expectation",
    "normal_pdf",
    "planar_jacobian_check",
    "tanh_flow_density_check",
]

Rules = Mapping[sp.Basic, sp.Basic] | None


class DerivationError(AssertionError):
    """A step that sympy could not prove: an AssertionError, so a wrong line fails the chapter's
    run (CONTRIBUTING.md, 'Displayed derivations are printed from their checks')."""


class StepCheck(NamedTuple):
    """The outcome of checking lhs = rhs: `difference` is canonical(lhs - rhs), 0 when it holds.

    What `check_step` returns; printed, it is one line: the step holds, or what is left over.
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
       a normalisation {Integral(q(z), (z, -oo, oo)): 1}; they are applied again after step 3,
       and steps 1 to 3 repeat until nothing changes (a rule may introduce what another
       rule rewrites, as a named quantity defined by an integral does);
    2. expand logarithms: log(a b) = log a + log b and log(a / b) = log a - log b, which sympy
       only does when it knows a and b are positive (declare symbols and functions positive);
    3. split integrals by linearity and take constants outside them;
    4. `sympy.simplify`, with the remaining integrals held fixed as atoms, then `sympy.expand`
       so that the same difference always prints the same way.
    """
    rules = dict(rules or {})
    expr = sp.sympify(expr)
    for _ in range(8):  # rules may name quantities defined by other rules: repeat to a fixed point
        before = expr
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
        if expr == before:
            break
    # Integrals are now atoms in canonical form: stand-ins keep sympy.simplify from trying (slowly,
    # and in vain) to evaluate integrals of unknown functions.
    stand_ins = {
        integral: sp.Dummy(f"integral{i}", real=True)
        for i, integral in enumerate(sorted(expr.atoms(sp.Integral), key=sp.default_sort_key))
    }
    simplified = sp.expand(sp.simplify(expr.xreplace(stand_ins)))  # expanded: prints the same
    return simplified.xreplace({dummy: integral for integral, dummy in stand_ins.items()})


def check_step(lhs: sp.Expr, rhs: sp.Expr, label: str = "step", rules: Rules = None) -> StepCheck:
    """Check one step lhs = rhs; the result says whether it holds and what difference is left.
    It does not raise, so `book/04_kl_derivation.ipynb` can show a step failing on purpose."""
    difference = canonical(sp.sympify(lhs) - sp.sympify(rhs), rules)
    return StepCheck(label, difference == 0, difference)


def assert_step(lhs: sp.Expr, rhs: sp.Expr, label: str = "step", rules: Rules = None) -> StepCheck:
    """`check_step`, raising `DerivationError` (an AssertionError) when the step does not hold:
    how chapters 4 to 6 check each line of a derivation before it is displayed."""
    result = check_step(lhs, rhs, label, rules)
    if not result.holds:
        raise DerivationError(str(result))
    return result


def assert_chain(
    lines: Sequence[sp.Expr], labels: Sequence[str] | None = None, rules: Rules = None
) -> list[StepCheck]:
    """Check that each line of a chain equals the next: lines[0] = lines[1] = ... = lines[-1].

    `labels[i]` names the step from line i to line i+1. Raises `DerivationError` at the first
    step that fails, naming it (the concrete chain of `book/04_kl_derivation.ipynb`).
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
    """The density of N(mean, var) at x, as a sympy expression: the Gaussians of
    `book/04_kl_derivation.ipynb` and `book/06_gaussian_kl.ipynb`, and `normal_expectation`'s."""
    return sp.exp(-((x - mean) ** 2) / (2 * var)) / sp.sqrt(2 * sp.pi * var)


_U = sp.Dummy("u", real=True)


@cache
def _weighted_moment(weight: sp.Expr, k: int) -> sp.Expr:
    """The integral of weight * u^k over the real line, by sympy's own integration."""
    return sp.integrate(weight * _U**k, (_U, -sp.oo, sp.oo), conds="none")


def integrate_against(
    density: sp.Expr, expr: sp.Expr, z: sp.Symbol, shift: sp.Expr, scale: sp.Expr
) -> sp.Expr:
    """The integral of density * expr over the real line, with nothing assumed about `density`.

    The substitution z = shift + scale * u (any shift and positive scale give the same integral;
    choose them to make it easy) turns the integral into sums of integrals of
    density(shift + scale u) * scale * u^k, each done by sympy. `density` enters every one of
    them, the k = 0 term included, so a density that does not integrate to 1 gives a different
    answer: this is what makes the step "q integrates to 1" of `book/04_kl_derivation.ipynb` a
    computation rather than an assumption. `expr` must become a polynomial in u once logarithms
    are expanded (true of logarithms of Gaussian densities); otherwise ValueError.
    """
    moved = sp.expand(sp.expand_log(sp.sympify(expr).subs(z, shift + scale * _U)))
    try:
        poly = sp.Poly(moved, _U)
    except sp.PolynomialError:
        raise ValueError(
            f"integrate_against: {expr} is not a polynomial in {z} after expanding logarithms"
        ) from None
    weight = sp.simplify(sp.sympify(density).subs(z, shift + scale * _U) * scale)
    return sp.expand(sum(coeff * _weighted_moment(weight, k) for (k,), coeff in poly.terms()))


def normal_expectation(expr: sp.Expr, z: sp.Symbol, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """E[expr] for z ~ N(mean, var): the integral of normal_pdf(z, mean, var) * expr over the line.

    `integrate_against` with the Gaussian density itself, so its normalisation is computed by
    sympy, not assumed. Works for expressions that become polynomials in z once logarithms of
    Gaussian densities are expanded; raises ValueError for other integrands.
    """
    try:
        return integrate_against(normal_pdf(z, mean, var), expr, z, mean, sp.sqrt(var))
    except ValueError:
        raise ValueError(
            f"normal_expectation: {expr} is not a polynomial in {z} after expanding logarithms"
        ) from None


def latex(expr: sp.Expr, names: Mapping[sp.Basic, str] | None = None) -> str:
    """LaTeX for a displayed line, printed from the expression that was checked.

    `names` maps symbols and applied functions to the LaTeX the reader sees (q(z) as "q",
    p_z_given_x(z) as "p(z \\mid x)", ...). Integrals over the whole real line print without
    limits. The chapters display their derivations with this (`book/04_kl_derivation.ipynb`), so
    a wrong displayed line is a wrong checked line, and the check fails.
    """
    stand_ins = {key: sp.Symbol(value) for key, value in (names or {}).items()}
    text = sp.latex(sp.sympify(expr).xreplace(stand_ins), long_frac_ratio=3, order="none")
    return text.replace(r"\int\limits_{-\infty}^{\infty}", r"\int")


def determinant_lemma_check(n: int = 3) -> StepCheck:
    """det(I + u psi^T) = 1 + psi^T u for symbolic n-vectors: the lemma behind the planar flow's
    O(d) log-determinant, proved for one n (`book/16_flows.ipynb`)."""
    u, psi = (sp.Matrix(sp.symbols(f"{s}1:{n + 1}", real=True)) for s in ("u", "psi"))
    return check_step((sp.eye(n) + u * psi.T).det(), 1 + (psi.T * u)[0], f"lemma, n = {n}")


def planar_jacobian_check(n: int = 2) -> tuple[StepCheck, sp.Expr]:
    """(check, det J): for f(z) = z + u tanh(w^T z + b) in n-D, sympy's Jacobian determinant
    equals 1 + (1 - tanh^2(w^T z + b)) w^T u, the formula `PlanarFlow` uses (book/16_flows)."""
    z, u, w = (sp.Matrix(sp.symbols(f"{s}1:{n + 1}", real=True)) for s in ("z", "u", "w"))
    a = (w.T * z)[0] + sp.Symbol("b", real=True)
    det = (z + u * sp.tanh(a)).jacobian(z).det()
    return check_step(det, 1 + (1 - sp.tanh(a) ** 2) * (w.T * u)[0], "planar log-det"), det


def tanh_flow_density_check(with_jacobian: bool = True) -> tuple[StepCheck, sp.Expr, sp.Expr]:
    """(check, density, mass) for z' = tanh(a z + b), z ~ N(0, 1), a > 0: the change of
    variables q(z') = N(z; 0, 1) / |f'(z)| at z = f^-1(z'), against d/dz' of the pushforward's
    CDF Phi(f^-1(z')); mass, the CDF's rise over (-1, 1) by limits, is 1 (either way). With
    `with_jacobian=False` the check fails and shows what is left over (`book/16_flows.ipynb`)."""
    z, t, b = sp.symbols("z t b", real=True)
    a = sp.Symbol("a", positive=True)
    inverse = (sp.atanh(t) - b) / a
    jacobian = sp.diff(sp.tanh(a * z + b), z) if with_jacobian else sp.Integer(1)
    density = sp.simplify((normal_pdf(z, 0, 1) / jacobian).subs(z, inverse))
    cdf = (1 + sp.erf(inverse / sp.sqrt(2))) / 2
    mass = sp.limit(cdf, t, 1, "-") - sp.limit(cdf, t, -1, "+")
    return check_step(density, sp.diff(cdf, t), "change of variables"), density, mass
