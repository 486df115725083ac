"""The derivation checker: right steps hold, wrong ones fail, and the Gaussian expectations are
the ones sympy's own integration and numerical quadrature give."""

import math

import pytest
import sympy as sp
from scipy import integrate

import vae_lib
from vae_lib.derivation import canonical

z = sp.Symbol("z", real=True)
p_x = sp.Symbol("p_x", positive=True)
q, prior, lik, joint, post = (
    sp.Function(name, positive=True)(z)
    for name in ("q", "p_z", "p_x_given_z", "p_zx", "p_z_given_x")
)
BAYES = {post: joint / p_x}
NORMALISED = {sp.Integral(q, (z, -sp.oo, sp.oo)): 1}


def integral(f):
    return sp.Integral(f, (z, -sp.oo, sp.oo))


def test_a_right_step_holds_and_prints_as_such():
    result = vae_lib.assert_step(
        q * sp.log(q / post), q * sp.log(q * p_x / joint), "Bayes' rule", rules=BAYES
    )
    assert result.holds and result.difference == 0
    assert str(result) == "Bayes' rule: holds (lhs - rhs simplifies to 0)"


def test_a_deliberately_wrong_line_fails():
    # Bayes' rule the wrong way up: p(z|x) = p(z, x) p(x) instead of p(z, x) / p(x).
    wrong = q * sp.log(q / (joint * p_x))
    result = vae_lib.check_step(q * sp.log(q / post), wrong, "Bayes upside down", rules=BAYES)
    assert not result.holds
    assert result.difference == 2 * q * sp.log(p_x)
    assert "FAILS" in str(result)
    with pytest.raises(vae_lib.DerivationError, match="Bayes upside down: FAILS"):
        vae_lib.assert_step(q * sp.log(q / post), wrong, "Bayes upside down", rules=BAYES)


def test_a_dropped_term_is_reported_as_the_difference():
    leftover = integral(q * sp.log(prior))
    result = vae_lib.check_step(sp.log(p_x) + leftover, sp.log(p_x))
    assert not result.holds
    assert sp.simplify(result.difference - leftover) == 0


def test_the_normalisation_step_needs_its_rule():
    lhs = integral(q * (sp.log(p_x) + sp.log(q / joint)))
    rhs = sp.log(p_x) + integral(q * sp.log(q / joint))
    assert vae_lib.check_step(lhs, rhs, rules=NORMALISED).holds
    without = vae_lib.check_step(lhs, rhs)
    assert not without.holds
    assert without.difference.has(sp.Integral)


def test_canonical_splits_integrals_by_linearity():
    c = sp.Symbol("c", positive=True)
    expr = integral(c * q + q * sp.log(q / prior))
    expected = c * integral(q) + integral(q * sp.log(q)) - integral(q * sp.log(prior))
    assert sp.simplify(canonical(expr) - expected) == 0


def test_logs_of_quantities_of_unknown_sign_are_not_expanded():
    a, b = sp.symbols("a b", real=True)  # not positive: log(a b) = log a + log b can be false
    assert not vae_lib.check_step(sp.log(a * b), sp.log(a) + sp.log(b)).holds


def test_chain_stops_at_the_first_wrong_step():
    a = sp.Symbol("a", positive=True)
    lines = [sp.log(a**2), 2 * sp.log(a), sp.log(a) + sp.log(a), 3 * sp.log(a)]
    assert len(vae_lib.assert_chain(lines[:3])) == 2
    with pytest.raises(vae_lib.DerivationError, match="line 2 = line 3"):
        vae_lib.assert_chain(lines)
    with pytest.raises(ValueError):
        vae_lib.assert_chain(lines, labels=["only one"])


def test_the_whole_abstract_chain():
    lines = [
        integral(q * sp.log(q / post)),
        integral(q * sp.log(q * p_x / joint)),
        integral(q * (sp.log(p_x) + sp.log(q / joint))),
        sp.log(p_x) + integral(q * sp.log(q / joint)),
    ]
    rules = {**BAYES, **NORMALISED}
    assert all(step.holds for step in vae_lib.assert_chain(lines, rules=rules))


@pytest.mark.parametrize("k, expected", [(0, 1), (1, 0), (2, 1), (3, 0), (4, 3), (6, 15)])
def test_standard_normal_moments(k, expected):
    assert vae_lib.normal_expectation(z**k, z, 0, 1) == expected


def test_normal_expectation_against_sympy_integrate_and_quadrature():
    m = sp.Symbol("m", real=True)
    v = sp.Symbol("v", positive=True)
    density = vae_lib.normal_pdf(z, m, v)
    f = sp.expand_log(sp.log(vae_lib.normal_pdf(z, 0, 1))) + 3 * z**3 - z
    got = vae_lib.normal_expectation(f, z, m, v)
    by_sympy = sp.integrate(sp.expand(sp.expand_log(density * f)), (z, -sp.oo, sp.oo), conds="none")
    assert sp.simplify(got - by_sympy) == 0
    values = {m: 0.7, v: 1.9}
    numeric = sp.lambdify(z, (density * f).subs(values))
    by_quadrature, _ = integrate.quad(numeric, -math.inf, math.inf)
    assert float(got.subs(values)) == pytest.approx(by_quadrature, rel=1e-9)


def test_normal_expectation_rejects_what_it_cannot_integrate():
    with pytest.raises(ValueError, match="not a polynomial"):
        vae_lib.normal_expectation(sp.sin(z), z, 0, 1)


def test_normal_pdf_integrates_to_one():
    m = sp.Symbol("m", real=True)
    v = sp.Symbol("v", positive=True)
    assert sp.simplify(sp.integrate(vae_lib.normal_pdf(z, m, v), (z, -sp.oo, sp.oo))) == 1


def test_integrate_against_assumes_no_normalisation():
    # The density enters every term: twice a Gaussian integrates to 2, and E[z^2] doubles too.
    z, m = sp.symbols("z m", real=True)
    v = sp.Symbol("v", positive=True)
    gaussian = vae_lib.normal_pdf(z, m, v)
    assert vae_lib.integrate_against(gaussian, sp.Integer(1), z, m, sp.sqrt(v)) == 1
    assert vae_lib.integrate_against(2 * gaussian, sp.Integer(1), z, m, sp.sqrt(v)) == 2
    second = vae_lib.integrate_against(2 * gaussian, z**2, z, m, sp.sqrt(v))
    assert sp.simplify(second - 2 * (m**2 + v)) == 0
    # The shift and scale are only a change of variables: another choice, the same integral.
    other = vae_lib.integrate_against(gaussian, z**2, z, 0, sp.Integer(1))
    assert sp.simplify(other - (m**2 + v)) == 0


def test_latex_prints_the_checked_expression_with_the_readers_names():
    z = sp.Symbol("z", real=True)
    q = sp.Function("q", positive=True)(z)
    post = sp.Function("post", positive=True)(z)
    line = sp.Integral(q * sp.log(q / post), (z, -sp.oo, sp.oo))
    text = vae_lib.latex(line, {q: "q", post: r"p(z \mid x)"})
    assert text.startswith(r"\int") and r"p(z \mid x)" in text and "limits" not in text
    assert vae_lib.latex(-line, {q: "q", post: "p"}).startswith("-")
