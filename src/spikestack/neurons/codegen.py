"""Code generation for :func:`~spikestack.neurons.define_neuron`: numba and Triton
modules made from a :class:`~spikestack.neurons.declaration.Declaration`, and the autograd
functions that run them.

The forward kernels run the declared functions themselves (float32 kept float32), the
backward kernels derivatives SymPy takes of them (common subexpressions taken out). The
generated source is written once to ``$SPIKESTACK_CACHE/neurons/`` under a hash of the
declaration and of this module, then imported (numba caches its machine code beside it).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikestack.kernels._buffers import POOL
from spikestack.neurons.declaration import BINARY, FUNCTIONS, Declaration, as_tuple, call
from spikestack.surrogates import Surrogate, SurrogateId

__all__ = ["GenerationError", "load_kernels", "run_fused"]

_FUNCTIONS = FUNCTIONS
# this module's source is part of every cache key: a new generator regenerates
GENERATOR = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


# -- the generated CPU kernel -----------------------------------------------------------


class GenerationError(Exception):
    """What stopped the generator, named for the fallback warning."""


class _Float32Literals(ast.NodeTransformer):
    """For numba: numbers in the declared functions become ``_f(number)`` (the array's
    float type), so float32 arithmetic stays float32. For Triton: ``/`` becomes the IEEE
    division ``_div`` and small integer powers products. Both: the math functions the
    generated module's ``_exp`` ... (numba's ``math``, Triton's ``tl``)."""

    def __init__(self, where: str, target: str = "numba") -> None:
        self.where = where
        self.target = target

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise GenerationError(f"{self.where}: the constant {node.value!r} is not a number")
        if self.target == "triton":
            return ast.Constant(float(node.value))
        return ast.Call(ast.Name("_f", ast.Load()), [node], [])

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if self.target != "triton":
            return node
        if isinstance(node.op, ast.Div):
            return ast.Call(ast.Name("_div", ast.Load()), [node.left, node.right], [])
        if isinstance(node.op, ast.Pow):
            e = node.right
            power = e.value if isinstance(e, ast.Constant) else None
            if not (isinstance(power, float) and power.is_integer() and 1 <= power <= 4):
                raise GenerationError(
                    f"{self.where}: the power {ast.unparse(node)} (Triton: 1 to 4)"
                )
            out: ast.AST = node.left
            for _ in range(int(power) - 1):
                out = ast.BinOp(out, ast.Mult(), node.left)
            return out
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name == "abs":
            if self.target == "triton":
                node.func = ast.Name("_abs", ast.Load())
            return node
        if name in _FUNCTIONS or (name in BINARY and len(node.args) == 2):
            node.func = ast.Name(f"_{name}", ast.Load())
            return node
        raise GenerationError(
            f"{self.where}: the call {ast.unparse(node.func)}(...) (the generator knows "
            f"abs, {', '.join(_FUNCTIONS)} and the two-argument {' and '.join(BINARY)})"
        )

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        raise GenerationError(
            f"{self.where}: {ast.unparse(node)} (the generator knows abs and "
            f"{', '.join(_FUNCTIONS)} from spikestack.neurons.define, and arithmetic)"
        )

    def generic_visit(self, node: ast.AST) -> ast.AST:
        allowed = (
            ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Expr, ast.BinOp, ast.Pass,
            ast.UnaryOp, ast.Name, ast.Load, ast.Store, ast.Tuple, ast.List, ast.Assign,
            ast.Constant, ast.Call, ast.operator, ast.unaryop,
        )  # fmt: skip
        if not isinstance(node, allowed):
            raise GenerationError(
                f"{self.where}: {type(node).__name__} ({ast.unparse(node)[:40]!r}) is not plain "
                "arithmetic"
            )
        return super().generic_visit(node)


class _MinMax:
    """What both generators' printers write alike: SymPy's Min and Max as the generated
    modules' ``_minimum`` / ``_maximum`` helpers (nested for more than two arguments), and
    the powers both handle the same way."""

    def _print_Min(self, expr: Any) -> str:
        return _nested("_minimum", [self._print(a) for a in expr.args])  # type: ignore[attr-defined]

    def _print_Max(self, expr: Any) -> str:
        return _nested("_maximum", [self._print(a) for a in expr.args])  # type: ignore[attr-defined]

    def _small_power(self, base: Any, e: Any) -> str | None:
        """``base ** e`` as a product for e = 1..4, as ``_sqrt`` for e = 1/2; None otherwise."""
        if e.is_Integer and 0 < int(e) <= 4:
            return "(" + " * ".join([f"({self._print(base)})"] * int(e)) + ")"  # type: ignore[attr-defined]
        if e.is_Rational and (e.p, e.q) == (1, 2):
            return f"_sqrt({self._print(base)})"  # type: ignore[attr-defined]
        return None


def _nested(name: str, args: list[str]) -> str:
    """``name(a, name(b, c))`` for a SymPy Min/Max of any number of arguments."""
    out = args[-1]
    for a in reversed(args[:-1]):
        out = f"{name}({a}, {out})"
    return out


def _numba_source(decl: Declaration, attr: str, target: str = "numba") -> str:
    """The declared function ``attr`` rewritten for ``target`` as ``_<attr>``."""
    name, where = f"_{attr}", f"{decl.name}.{attr}"
    text = decl.source(attr)
    if text is None:
        raise GenerationError(f"{where}: its source is not available (defined in a console?)")
    source = textwrap.dedent(text)
    tree = ast.parse(source)
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef):
        raise GenerationError(f"{where}: not a def (lambdas cannot be compiled)")
    func.decorator_list = []
    func.name = name
    func.returns = None
    for arg in func.args.args:
        arg.annotation = None
    if (
        func.body
        and isinstance(func.body[0], ast.Expr)
        and isinstance(func.body[0].value, ast.Constant)
    ):
        func.body = func.body[1:] or [ast.Pass()]  # the docstring
    for node in ast.walk(func):  # a one-variable state returned as (value,): the value
        if (
            isinstance(node, ast.Return)
            and isinstance(node.value, ast.Tuple)
            and len(node.value.elts) == 1
        ):
            node.value = node.value.elts[0]
    tree = _Float32Literals(where, target).visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def _symbolic(decl: Declaration) -> dict[str, Any]:
    """SymPy expressions of every partial derivative the backward pass needs."""
    import sympy

    sym = {n: sympy.Symbol(f"s_{n}") for n in decl.state}  # state before the step
    hs = {n: sympy.Symbol(f"h_{n}") for n in decl.state}  # charged state
    prm = {p: sympy.Symbol(f"p_{p}") for p in decl.params}
    x, spike = sympy.Symbol("x_t"), sympy.Symbol("spike")  # the kernel's local names
    k = len(decl.state)
    try:
        charge = as_tuple(call(decl, decl.charge, {**prm, **sym, "x": x}), k, "charge")
        fire = call(decl, decl.fire, {**prm, **hs})
        reset = as_tuple(call(decl, decl.reset, {**prm, **hs, "spike": spike}), k, "reset")
        output = (  # what the neuron emits: the spike, or the declared analog output
            spike if decl.output is None
            else call(decl, decl.output, {**prm, **hs, "spike": spike})
        )  # fmt: skip
    except Exception as error:  # noqa: BLE001 - anything SymPy cannot take
        raise GenerationError(f"evaluating the functions symbolically failed: {error}") from None
    charge = tuple(sympy.sympify(c) for c in charge)
    fire, reset = sympy.sympify(fire), tuple(sympy.sympify(r) for r in reset)
    output = sympy.sympify(output)
    return {
        "symbols": (x, spike, sym, hs, prm),
        "dh_dx": [c.diff(x) for c in charge],
        "dh_ds": [[c.diff(sym[s]) for s in decl.state] for c in charge],  # [j][k]
        "dh_dp": [[c.diff(prm[p]) for p in decl.learnable] for c in charge],
        "dz_dh": [fire.diff(hs[s]) for s in decl.state],
        "dz_dp": [fire.diff(prm[p]) for p in decl.learnable],
        "dr_dh": [[r.diff(hs[s]) for s in decl.state] for r in reset],  # [k][j]
        "dr_dspike": [r.diff(spike) for r in reset],
        "dr_dp": [[r.diff(prm[p]) for p in decl.learnable] for r in reset],
        "do_dh": [output.diff(hs[s]) for s in decl.state],
        "do_dspike": [output.diff(spike)],
        "do_dp": [output.diff(prm[p]) for p in decl.learnable],
    }


def _printed_derivatives(
    decl: Declaration, d: dict[str, Any], printer: Any, form: str
) -> tuple[list[tuple[Any, Any]], dict[str, Any]]:
    """The derivatives of :func:`_symbolic` with their common subexpressions taken out:
    ``(replacements, printed)``, each printed expression put into ``form``, in the nested
    layout of ``d`` ([j][k] for the per-state tables)."""
    import sympy

    k, n_learn = len(decl.state), len(decl.learnable)
    layout = [("dh_dx", None), ("dh_ds", k), ("dh_dp", n_learn), ("dz_dh", None),
              ("dz_dp", None), ("dr_dh", k), ("dr_dspike", None), ("dr_dp", n_learn),
              ("do_dh", None), ("do_dspike", None), ("do_dp", None)]  # fmt: skip
    flat = []
    for key, inner in layout:
        flat += [e for row in d[key] for e in row] if inner is not None else list(d[key])
    replacements, reduced = sympy.cse(flat, symbols=sympy.numbered_symbols("cse"))
    names = iter(reduced)

    def take(n: int) -> list[str]:
        return [form.format(printer.doprint(next(names))) for _ in range(n)]

    printed: dict[str, Any] = {}
    for key, inner in layout:
        printed[key] = [take(inner) for _ in range(k)] if inner is not None else take(len(d[key]))
    return replacements, printed


def _call_args(
    decl: Declaration, fn: Callable[..., Any], prefix: str, *, x: str = "x_t", spike: str = "spike"
) -> str:
    """The generated call's arguments for a declared function: its parameters as ``p_<name>``,
    its state variables as ``<prefix><name>``, the input as ``x`` and the spike as ``spike``."""
    return ", ".join(
        x if a == "x"
        else spike if a == "spike"
        else (f"p_{a}" if a in decl.params else f"{prefix}{a}")
        for a in decl.arguments(fn)
    )  # fmt: skip


def _output_terms(
    decl: Declaration, d: dict[str, Any], printed: dict[str, Any], zero: str
) -> dict[str, Any]:
    """How the gradient of the output at a step (``go``) enters the backward step: the
    line that starts ``dspike``, and the terms added to each ``dh_`` and ``gp_`` (none
    where the output's derivative is zero; a spiking neuron's output is the spike)."""
    if decl.output is None:
        return {"dspike": "dspike = go", "h": [[] for _ in decl.state],
                "p": [[] for _ in decl.learnable]}  # fmt: skip
    dspike = printed["do_dspike"][0] if d["do_dspike"][0] != 0 else None
    return {
        "dspike": f"dspike = go * ({dspike})" if dspike is not None else f"dspike = {zero}",
        "h": [
            [f"go * ({e})"] if d["do_dh"][j] != 0 else [] for j, e in enumerate(printed["do_dh"])
        ],
        "p": [
            [f"go * ({e})"] if d["do_dp"][q] != 0 else [] for q, e in enumerate(printed["do_dp"])
        ],
    }


def _kernel_source(decl: Declaration, dtype: str) -> str:
    from sympy.printing.pycode import PythonCodePrinter

    states, params = decl.state, list(decl.params)
    learn = list(decl.learnable)
    compiled = {attr: _numba_source(decl, attr) for attr in decl.functions}
    d = _symbolic(decl)

    class Printer(_MinMax, PythonCodePrinter):
        def _print_Float(self, expr: Any) -> str:
            return f"_f({float(expr)!r})"

        def _print_Integer(self, expr: Any) -> str:
            return f"_f({int(expr)})"

        def _print_Rational(self, expr: Any) -> str:
            return f"(_f({expr.p}) / _f({expr.q}))"

        def _print_Pow(self, expr: Any, rational: bool = False) -> str:
            base, e = expr.as_base_exp()
            small = self._small_power(base, e)
            if small is not None:
                return small
            if e == -1:
                return f"(_f(1) / ({self._print(base)}))"
            return f"(({self._print(base)}) ** ({self._print(e)}))"

        def _print_Function(self, expr: Any) -> str:
            name = type(expr).__name__.lower()
            if name in ("exp", "log", "sqrt", "tanh", "relu"):
                return f"_{name}({self._print(expr.args[0])})"
            raise GenerationError(
                f"the derivative uses {type(expr).__name__}, which the generator does not print"
            )

        def _print_Abs(self, expr: Any) -> str:
            return f"abs({self._print(expr.args[0])})"

        def _print_sign(self, expr: Any) -> str:
            a = self._print(expr.args[0])
            return f"(_f(1) if ({a}) > 0 else (_f(-1) if ({a}) < 0 else _f(0)))"

        def _print_Heaviside(self, expr: Any) -> str:  # d min / d max: halves at a tie
            a = self._print(expr.args[0])
            if len(expr.args) > 1 and expr.args[1] == 0:  # d relu: 0 at 0, as torch's
                return f"(_f(1) if ({a}) > 0 else _f(0))"
            return f"(_f(1) if ({a}) > 0 else (_f(0.5) if ({a}) == 0 else _f(0)))"

    replacements, p = _printed_derivatives(decl, d, Printer(), "{}")
    dh_dx, dh_ds, dh_dp, dz_dh, dz_dp = p["dh_dx"], p["dh_ds"], p["dh_dp"], p["dz_dh"], p["dz_dp"]
    dr_dh, dr_dspike, dr_dp = p["dr_dh"], p["dr_dspike"], p["dr_dp"]
    out_terms = _output_terms(decl, d, p, "_f(0)")
    printer = Printer()

    prm_unpack = "\n".join(f"    p_{p} = prm[{i}]" for i, p in enumerate(params))
    charge_args = _call_args(decl, decl.charge, "s_", x="xr[j]")
    fire_args = _call_args(decl, decl.fire, "h_")

    def reset_args(prefix: str, spike: str) -> str:
        return _call_args(decl, decl.reset, prefix, spike=spike)

    hvars = ", ".join(f"h_{s}" for s in states)
    svars = ", ".join(f"s_{s}" for s in states)
    lines = [
        '"""Generated by spikestack.neurons.define_neuron for ' + decl.name + '; do not edit."""',
        "import math",
        "import numpy as np",
        "from numba import njit, prange",
        "from spikestack.kernels.cpu_kernels import _sg",
        f"_f = np.{dtype}",
        "_OPTS = {'cache': True, 'nogil': True, 'error_model': 'numpy'}",
    ]
    for fn in _FUNCTIONS:
        body = {
            "sigmoid": "return _f(1) / (_f(1) + math.exp(-a))",
            "relu": "return a if a > _f(0) else _f(0)",
        }.get(fn, f"return math.{fn}(a)")
        lines += ["", "@njit(inline='always', **_OPTS)", f"def _{fn}(a):", f"    {body}"]
    for fn, op in (("minimum", "<"), ("maximum", ">")):
        body = f"return a if a {op} b else b"
        lines += ["", "@njit(inline='always', **_OPTS)", f"def _{fn}(a, b):", f"    {body}"]
    for attr in decl.functions:
        lines += ["", "@njit(inline='always', **_OPTS)", compiled[attr]]
    # Neurons in blocks of _B: prange over blocks, time outside, the block's neurons
    # inside, so every inner loop streams a contiguous row segment of [T, N], through 1-D
    # row views (indexing the 2-D arrays in the loop kept LLVM from vectorising it); long
    # rows keep the hardware prefetchers streaming.
    pad = " " * 16
    body_fwd = [
        f"{hvars} = _charge({charge_args})",
        f"zz = _fire({fire_args})",
        "sp = _f(1) if zz >= _f(0) else _f(0)",
        *(
            [f"spr[j] = _output({_call_args(decl, decl.output, 'h_', spike='sp')})"]
            if decl.output is not None
            else []
        ),
        f"{svars} = _reset({reset_args('h_', 'sp')})",
        *(["spr[j] = sp"] if decl.output is None else []),
        *[f"hr{i}[j] = h_{st}" for i, st in enumerate(states)],
    ]
    lines += ["", "_B = 8192"]
    kernels = [
        "",
        "@njit(parallel=True, **_OPTS)",
        "def forward(x, s0, prm, spikes, h, s_out):",
        "    T, N = x.shape",
        "PRM_TOP",
        "    for b in prange((N + _B - 1) // _B):",
        "        lo = b * _B",
        "        hi = min(lo + _B, N)",
        "PRM_BLOCK",
        *[f"        S_{st} = s0[{i}, lo:hi].copy()" for i, st in enumerate(states)],
        "        for t in range(T):",
        "            xr = x[t, lo:hi]",
        "            spr = spikes[t, lo:hi]",
        *[f"            hr{i} = h[{i}, t, lo:hi]" for i in range(len(states))],
        "            for j in range(hi - lo):",
        "PRM_J",
        *[f"{pad}s_{st} = S_{st}[j]" for st in states],
        *[pad + line for line in body_fwd],
        *[f"{pad}S_{st}[j] = s_{st}" for st in states],
        *[f"        s_out[{i}, lo:hi] = S_{st}" for i, st in enumerate(states)],
    ]
    body = [
        *[f"h_{st} = hr{i}[j]" for i, st in enumerate(states)],
        "x_t = xr[j]",
        # the spike and z again from the saved states (bit for bit the forward's): neither
        # is read back from memory
        f"zz = _fire({fire_args})",
        "spike = _f(1) if zz >= _f(0) else _f(0)",
        *[f"{printer.doprint(lhs)} = {printer.doprint(rhs)}" for lhs, rhs in replacements],
        "go = gsr[j]",
        out_terms["dspike"],
        "if not detach:",
        *[f"    dspike += a_{st} * ({dr_dspike[i]})" for i, st in enumerate(states)],
        "dz = dspike * SURROGATE",
    ]
    for j, sj in enumerate(states):
        terms = [f"a_{sk} * ({dr_dh[i][j]})" for i, sk in enumerate(states)]
        body.append(f"dh_{sj} = " + " + ".join([*terms, f"dz * ({dz_dh[j]})", *out_terms["h"][j]]))
    body.append("gxr[j] = " + " + ".join(f"dh_{st} * ({dh_dx[j]})" for j, st in enumerate(states)))
    for q, p in enumerate(learn):
        terms = [f"dh_{st} * ({dh_dp[j][q]})" for j, st in enumerate(states)]
        terms += [f"a_{st} * ({dr_dp[i][q]})" for i, st in enumerate(states)]
        body.append(f"gp_{p} += " + " + ".join([*terms, f"dz * ({dz_dp[q]})", *out_terms["p"][q]]))
    for m, sm in enumerate(states):
        body.append(
            f"a_{sm} = " + " + ".join(f"dh_{st} * ({dh_ds[j][m]})" for j, st in enumerate(states))
        )
    # the state before step t: recomputed from step t - 1 (or the initial state at t = 0);
    # two loops so that no branch on t sits in the inner one
    previous = [
        *[f"q_{st} = hp{i}[j]" for i, st in enumerate(states)],
        f"qz = _fire({_call_args(decl, decl.fire, 'q_')})",
        f"{svars} = _reset({reset_args('q_', '(_f(1) if qz >= _f(0) else _f(0))')})",
    ]
    initial = [f"s_{st} = hp{i}[j]" for i, st in enumerate(states)]

    def step_loop(times: str, start: list[str], before: str) -> list[str]:
        return [
            f"        for t in {times}:",
            "            xr = x[t, lo:hi]",
            "            gsr = g_spikes[t, lo:hi]",
            "            gxr = gx[t, lo:hi]",
            "            SGROW",
            *[f"            hr{i} = h[{i}, t, lo:hi]" for i in range(len(states))],
            *[f"            hp{i} = {before.format(i=i)}" for i in range(len(states))],
            "            for j in range(hi - lo):",
            "PRM_J",
            *[f"{pad}a_{st} = A_{st}[j]" for st in states],
            *[f"{pad}gp_{p} = GP_{p}[j]" for p in learn],
            *[pad + line for line in start + body],
            *[f"{pad}A_{st}[j] = a_{st}" for st in states],
            *[f"{pad}GP_{p}[j] = gp_{p}" for p in learn],
        ]

    backward = [
        "",
        "@njit(parallel=True, **_OPTS)",
        "def NAME(x, s0, prm, h, c0, c1, sg, g_spikes, g_final, detach, gx, g_s0, g_prm):",
        "    T, N = x.shape",
        "PRM_TOP",
        "    for b in prange((N + _B - 1) // _B):",
        "        lo = b * _B",
        "        hi = min(lo + _B, N)",
        "PRM_BLOCK",
        *[f"        A_{st} = g_final[{i}, lo:hi].copy()" for i, st in enumerate(states)],
        # float64: each sums T steps of one neuron's contributions
        *[f"        GP_{p} = np.zeros(hi - lo)" for p in learn],
        *step_loop("range(T - 1, 0, -1)", previous, "h[{i}, t - 1, lo:hi]"),
        *step_loop("range(0, 1)", initial, "s0[{i}, lo:hi]"),
        *[f"        g_s0[{i}, lo:hi] = A_{st}" for i, st in enumerate(states)],
        *[f"        g_prm[{q}, lo:hi] = GP_{p}" for q, p in enumerate(learn)],
    ]
    # one backward per built-in surrogate, its id a literal so that the formula is inlined
    # and the loop vectorises (numba compiles each on first use only), and one that reads
    # a custom surrogate's derivative from ``sg``
    text = "\n".join(backward)
    custom = text.replace("NAME", "backward_custom").replace("SURROGATE", "sgr[j]")
    kernels.append(custom.replace("SGROW", "sgr = sg[t, lo:hi]"))
    for sid in SurrogateId:
        if sid != SurrogateId.CUSTOM:
            formula = f"_sg({int(sid)}, zz, c0, c1, _f(1), _f(0), _f(2))"
            built_in = text.replace("NAME", f"backward_{int(sid)}").replace("SURROGATE", formula)
            kernels.append(built_in.replace("SGROW", "pass"))
    # z = fire(states after charge), for a custom surrogate's derivative (taken with torch)
    kernels += [
        "",
        "@njit(parallel=True, **_OPTS)",
        "def fire_z(h, prm, z):",
        "    T, N = z.shape",
        "PRM_TOP",
        "    for b in prange((N + _B - 1) // _B):",
        "        lo = b * _B",
        "        hi = min(lo + _B, N)",
        "PRM_BLOCK",
        "        for t in range(T):",
        *[f"            hr{i} = h[{i}, t, lo:hi]" for i in range(len(states))],
        "            zr = z[t, lo:hi]",
        "            for j in range(hi - lo):",
        "PRM_J",
        *[f"{pad}h_{st} = hr{i}[j]" for i, st in enumerate(states)],
        f"{pad}zr[j] = _fire({fire_args})",
    ]
    # two renderings: parameters as scalars (prm [P]) and per neuron (prm [P, N], the
    # functions named pn_*), chosen at run time by whether any parameter has a shape
    per_neuron = {
        "PRM_TOP": [],
        "PRM_BLOCK": [f"        P_{p} = prm[{i}, lo:hi]" for i, p in enumerate(params)],
        "PRM_J": [f"{pad}p_{p} = P_{p}[j]" for p in params],
    }
    scalar = {"PRM_TOP": prm_unpack.splitlines(), "PRM_BLOCK": [], "PRM_J": []}
    for fills, prefix in ((scalar, ""), (per_neuron, "pn_")):
        for line in "\n".join(kernels).splitlines():
            if line.strip() in fills:
                lines += fills[line.strip()]
            elif line.startswith("def "):
                lines.append("def " + prefix + line[4:])
            else:
                lines.append(line)
    return "\n".join(lines) + "\n"


def _triton_source(decl: Declaration) -> str:
    """The Triton module of ``decl``: one program per block of neurons, time in a loop;
    float32; the surrogate's derivative comes as a tensor."""
    from sympy.printing.pycode import PythonCodePrinter

    states, params = decl.state, list(decl.params)
    learn = list(decl.learnable)
    compiled = {attr: _numba_source(decl, attr, "triton") for attr in decl.functions}
    d = _symbolic(decl)

    class Printer(_MinMax, PythonCodePrinter):
        def _print_Float(self, expr: Any) -> str:
            return repr(float(expr))

        def _print_Integer(self, expr: Any) -> str:
            return f"{float(int(expr))!r}"

        def _print_Rational(self, expr: Any) -> str:
            return f"({float(expr.p)!r} / {float(expr.q)!r})"

        def _print_Pow(self, expr: Any, rational: bool = False) -> str:
            base, e = expr.as_base_exp()
            small = self._small_power(base, e)
            if small is not None:
                return small
            if e.is_Integer and -4 <= int(e) < 0:
                return f"_div(1.0, {self._print(base ** (-e))})"
            raise GenerationError(f"the derivative has the power {expr} (Triton: integers to 4)")

        def _print_Function(self, expr: Any) -> str:
            raise GenerationError(f"the derivative uses {type(expr).__name__}")

        # SymPy's printer maps these to math.*: the Triton module's helpers instead
        def _print_exp(self, expr: Any) -> str:
            return f"_exp({self._print(expr.args[0])})"

        def _print_log(self, expr: Any) -> str:
            return f"_log({self._print(expr.args[0])})"

        def _print_tanh(self, expr: Any) -> str:
            return f"_tanh({self._print(expr.args[0])})"

        def _print_Abs(self, expr: Any) -> str:
            return f"_abs({self._print(expr.args[0])})"

        def _print_sign(self, expr: Any) -> str:
            a = self._print(expr.args[0])
            return f"tl.where(({a}) > 0.0, 1.0, tl.where(({a}) < 0.0, -1.0, 0.0))"

        def _print_Heaviside(self, expr: Any) -> str:
            a = self._print(expr.args[0])
            if len(expr.args) > 1 and expr.args[1] == 0:  # d relu: 0 at 0, as torch's
                return f"tl.where(({a}) > 0.0, 1.0, 0.0)"
            return f"tl.where(({a}) > 0.0, 1.0, tl.where(({a}) == 0.0, 0.5, 0.0))"

        def _print_Relu(self, expr: Any) -> str:
            return f"_relu({self._print(expr.args[0])})"

    # a constant derivative still needs a block-shaped value: added to a zero block
    replacements, p = _printed_derivatives(decl, d, Printer(), "(zero + {})")
    dh_dx, dh_ds, dh_dp, dz_dh, dz_dp = p["dh_dx"], p["dh_ds"], p["dh_dp"], p["dz_dh"], p["dz_dp"]
    dr_dh, dr_dspike, dr_dp = p["dr_dh"], p["dr_dspike"], p["dr_dp"]
    out_terms = _output_terms(decl, d, p, "zero")
    printer = Printer()

    hvars, svars = ", ".join(f"h_{st}" for st in states), ", ".join(f"s_{st}" for st in states)
    load = "tl.load({ptr} + {off}, mask=mask, other=0.0)"
    lines = [
        '"""Generated by spikestack.neurons.define_neuron for ' + decl.name + ' (Triton)."""',
        "import triton",
        "import triton.language as tl",
        "",
        "@triton.jit",
        "def _div(a, b):",
        "    return tl.math.div_rn(a, b)",
        "",
        "@triton.jit",
        "def _abs(a):",
        "    return tl.abs(a)",
    ]
    helpers = {
        "exp": "tl.exp(a)", "log": "tl.log(a)", "sqrt": "tl.sqrt(a)",
        "sigmoid": "tl.sigmoid(a)", "tanh": "2.0 * tl.sigmoid(2.0 * a) - 1.0",
        "relu": "tl.maximum(a, 0.0)",
    }  # fmt: skip
    for fn, body in helpers.items():
        lines += ["", "@triton.jit", f"def _{fn}(a):", f"    return {body}"]
    for fn in BINARY:
        lines += ["", "@triton.jit", f"def _{fn}(a, b):", f"    return tl.{fn}(a, b)"]
    for attr in decl.functions:
        lines += ["", "@triton.jit", compiled[attr]]
    kernels = [
        "",
        "@triton.jit",
        "def forward(x_ptr, s0_ptr, prm_ptr, spikes_ptr, h_ptr, z_ptr, sout_ptr, T, N, BLOCK: tl.constexpr):",
        "    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)",
        "    mask = offs < N",
        "PRM_LOAD",
        *[
            f"    s_{st} = " + load.format(ptr="s0_ptr", off=f"{i} * N + offs")
            for i, st in enumerate(states)
        ],
        "    for t in range(T):",
        "        x_t = " + load.format(ptr="x_ptr", off="t * N + offs"),
        f"        {hvars} = _charge({_call_args(decl, decl.charge, 's_')})",
        f"        zz = _fire({_call_args(decl, decl.fire, 'h_')})",
        "        sp = tl.where(zz >= 0.0, 1.0, 0.0)",
        f"        {svars} = _reset({_call_args(decl, decl.reset, 'h_', spike='sp')})",
        "        tl.store(spikes_ptr + t * N + offs, "
        + (f"_output({_call_args(decl, decl.output, 'h_', spike='sp')})" if decl.output else "sp")
        + ", mask=mask)",
        "        tl.store(z_ptr + t * N + offs, zz, mask=mask)",
        *[
            f"        tl.store(h_ptr + ({i} * T + t) * N + offs, h_{st}, mask=mask)"
            for i, st in enumerate(states)
        ],
        *[
            f"    tl.store(sout_ptr + {i} * N + offs, s_{st}, mask=mask)"
            for i, st in enumerate(states)
        ],
    ]
    body = [
        *[
            f"h_{st} = " + load.format(ptr="h_ptr", off=f"({i} * T + t) * N + offs")
            for i, st in enumerate(states)
        ],
        "x_t = " + load.format(ptr="x_ptr", off="t * N + offs"),
        # the spike from the saved firing value (the forward stored the output, which
        # is the spike unless the declaration has an analog output)
        "spike = tl.where(" + load.format(ptr="z_ptr", off="t * N + offs") + " >= 0.0, 1.0, 0.0)",
        *[f"{printer.doprint(lhs)} = {printer.doprint(rhs)}" for lhs, rhs in replacements],
        "go = " + load.format(ptr="gs_ptr", off="t * N + offs"),
        out_terms["dspike"],
        "if not DETACH:",
        *[f"    dspike += a_{st} * ({dr_dspike[i]})" for i, st in enumerate(states)],
        "dz = dspike * " + load.format(ptr="sg_ptr", off="t * N + offs"),
    ]
    for j, sj in enumerate(states):
        terms = [f"a_{sk} * ({dr_dh[i][j]})" for i, sk in enumerate(states)]
        body.append(f"dh_{sj} = " + " + ".join([*terms, f"dz * ({dz_dh[j]})", *out_terms["h"][j]]))
    body.append("tl.store(gx_ptr + t * N + offs, "
                + " + ".join(f"dh_{st} * ({dh_dx[j]})" for j, st in enumerate(states)) + ", mask=mask)")  # fmt: skip
    for q, p in enumerate(learn):
        terms = [f"dh_{st} * ({dh_dp[j][q]})" for j, st in enumerate(states)]
        terms += [f"a_{st} * ({dr_dp[i][q]})" for i, st in enumerate(states)]
        body.append(f"gp_{p} += " + " + ".join([*terms, f"dz * ({dz_dp[q]})", *out_terms["p"][q]]))
    updates = [f"n_{sm} = " + " + ".join(f"dh_{st} * ({dh_ds[j][m]})" for j, st in enumerate(states))
               for m, sm in enumerate(states)] + [f"a_{sm} = n_{sm}" for sm in states]  # fmt: skip
    previous = [
        *[
            f"q_{st} = " + load.format(ptr="h_ptr", off=f"({i} * T + t - 1) * N + offs")
            for i, st in enumerate(states)
        ],
        "sp_prev = tl.where("
        + load.format(ptr="z_ptr", off="(t - 1) * N + offs")
        + " >= 0.0, 1.0, 0.0)",
        f"{svars} = _reset({_call_args(decl, decl.reset, 'q_', spike='sp_prev')})",
    ]
    initial = [
        f"s_{st} = " + load.format(ptr="s0_ptr", off=f"{i} * N + offs")
        for i, st in enumerate(states)
    ]
    kernels += [
        "",
        "@triton.jit",
        "def backward(x_ptr, s0_ptr, prm_ptr, h_ptr, z_ptr, sg_ptr, gs_ptr, gf_ptr, gx_ptr, "
        "gs0_ptr, gprm_ptr, T, N, DETACH: tl.constexpr, BLOCK: tl.constexpr):",
        "    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)",
        "    mask = offs < N",
        "    zero = tl.zeros([BLOCK], dtype=tl.float32)",
        "PRM_LOAD",
        *[
            f"    a_{st} = " + load.format(ptr="gf_ptr", off=f"{i} * N + offs")
            for i, st in enumerate(states)
        ],
        *[f"    gp_{p} = tl.zeros([BLOCK], dtype=tl.float32)" for p in learn],
        "    for tt in range(T - 1):",
        "        t = T - 1 - tt",
        *["        " + line for line in previous + body + updates],
        "    t = 0",
        *["    " + line for line in initial + body + updates],
        *[
            f"    tl.store(gs0_ptr + {i} * N + offs, a_{st}, mask=mask)"
            for i, st in enumerate(states)
        ],
        *[
            f"    tl.store(gprm_ptr + {q} * N + offs, gp_{p}, mask=mask)"
            for q, p in enumerate(learn)
        ],
    ]
    # two renderings, as for numba: parameters as scalars (prm [P]) and per neuron
    # (prm [P, N], the kernels named pn_*)
    loads = {
        "": [f"    p_{p} = tl.load(prm_ptr + {i})" for i, p in enumerate(params)],
        "pn_": [f"    p_{p} = tl.load(prm_ptr + {i} * N + offs, mask=mask, other=1.0)"
                for i, p in enumerate(params)],
    }  # fmt: skip
    for prefix, load_lines in loads.items():
        for line in kernels:
            if line == "PRM_LOAD":
                lines += load_lines
            elif line.startswith("def "):
                lines.append("def " + prefix + line[4:])
            else:
                lines.append(line)
    return "\n".join(lines) + "\n"


_KERNELS: dict[tuple[str, str], Any] = {}


def load_kernels(decl: Declaration, dtype: torch.dtype, target: str = "numba") -> Any:
    """The generated module for ``decl``, ``dtype`` and ``target`` ("numba" or "triton"):
    written once under the cache folder, imported, kept for the process."""
    from spikestack.cache import default_cache_dir

    name = {torch.float32: "float32", torch.float64: "float64"}.get(dtype)
    if name is None or (target == "triton" and name != "float32"):
        raise GenerationError(
            f"the {target} kernel runs float32{'' if target == 'triton' else ' and float64'}; got {dtype}"
        )
    flavour = name if target == "numba" else "triton"
    key = (f"{decl.key()}{GENERATOR}", flavour)
    if key in _KERNELS:
        return _KERNELS[key]
    folder = default_cache_dir() / "neurons"
    folder.mkdir(parents=True, exist_ok=True)
    module_name = f"spikestack_neuron_{decl.key()}{GENERATOR}_{flavour}"
    path = folder / f"{module_name}.py"
    if not path.is_file():
        from spikestack.atomic import atomic_write

        source = _kernel_source(decl, name) if target == "numba" else _triton_source(decl)
        atomic_write(path, lambda f: f.write(source.encode()))
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[module_name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    _KERNELS[key] = module
    return module


def _kernel_inputs(
    x: Tensor, decl: Declaration, prm: Tensor, learn: Tensor, s0: tuple[Tensor, ...]
) -> tuple[Tensor, Tensor, Tensor, int]:
    """``x`` as ``[T, N]``, the initial states as ``[K, N]``, the parameter block with the
    learnable values in place, and how many parameters learn."""
    flat = x.detach().reshape(x.shape[0], -1).contiguous()
    n = flat.shape[1]
    state0 = _rows((len(s0), n), flat)
    for i, s in enumerate(s0):  # a resting state may be a stride-0 view of one value
        state0[i].copy_(s.detach().reshape(-1).expand(n))
    prm = prm.to(flat.device).clone()  # [P], or [P, N] for per-neuron parameters
    learn_index = [list(decl.params).index(p) for p in decl.learnable]
    if learn_index:
        prm[learn_index] = learn.detach().to(prm.device, prm.dtype)
    return flat, state0, prm.contiguous(), len(learn_index)


def _save(
    ctx: Any, x: Tensor, s0: tuple[Tensor, ...], saved: tuple[Tensor, ...], *meta: Any
) -> None:
    ctx.save_for_backward(*saved)
    ctx.meta = (*meta, x.shape, [tuple(s.shape) for s in s0])


def _rendering(prm: Tensor) -> str:
    """The generated functions' prefix for a parameter block: ``"pn_"`` for per-neuron
    parameters (``[P, N]``), ``""`` for scalars (``[P]``)."""
    return "pn_" if prm.dim() == 2 else ""


def _rows(shape: tuple[int, int], like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """An uninitialised ``[K, N]`` buffer: recycled on the CPU (fresh multi-megabyte tensors
    cost a page fault per page, more than the kernels' own passes)."""
    dtype = dtype or like.dtype
    if like.device.type == "cpu":
        return POOL.empty(shape, dtype)
    return torch.empty(shape, dtype=dtype, device=like.device)


def _final_grads(g_final: tuple[Tensor | None, ...], flat: Tensor) -> Tensor:
    """The final states' gradients as ``[K, N]`` (zeros where a final state is unused)."""
    n = flat.shape[1]
    out = _rows((len(g_final), n), flat)
    for i, g in enumerate(g_final):
        if g is None:
            out[i].zero_()
        else:
            out[i].copy_(g.reshape(n))
    return out


def _parameter_grads(n_learn: int, n: int, like: Tensor, dtype: torch.dtype) -> Tensor:
    """Zeroed ``[n_learn, N]`` sums of the learnable parameters' gradients ([1, 1] without
    learnable parameters: the kernels then never write it)."""
    if n_learn == 0:
        return torch.zeros((1, 1), dtype=dtype, device=like.device)
    return _rows((n_learn, n), like, dtype).zero_()


def _input_grads(
    gx: Tensor,
    g_s0: Tensor,
    g_prm: Tensor,
    n_learn: int,
    shape: Any,
    s_shapes: list[Any],
    per_neuron: bool = False,
) -> tuple[Any, ...]:
    """What backward returns: dL/dx, nothing for the constants, dL/d(learnable) summed
    over the neurons in float64, dL/d(initial state) (summed where it was broadcast)."""
    g_learn = None
    if n_learn:  # summed over the neurons for a scalar, kept per neuron otherwise
        g_learn = (g_prm[:n_learn] if per_neuron else g_prm[:n_learn].double().sum(1)).to(gx.dtype)
    g_states = [
        g_s0[i].reshape(shape[1:]) if s == tuple(shape[1:]) else g_s0[i].sum().reshape(s)
        for i, s in enumerate(s_shapes)
    ]
    return (gx.reshape(shape), None, None, None, None, None, g_learn, *g_states)


class _TritonFused(torch.autograd.Function):
    """The Triton kernels (on a CUDA device, or on CPU tensors in Triton's interpreter)."""

    BLOCK = 128

    @staticmethod
    def forward(ctx: Any, x: Tensor, kernels: Any, decl: Declaration, prm: Tensor,
                surrogate: Surrogate, detach_reset: bool, learn: Tensor, *s0: Tensor) -> Any:  # fmt: skip
        import triton

        flat, state0, prm, n_learn = _kernel_inputs(x, decl, prm, learn, s0)
        (T, n), k = flat.shape, len(decl.state)
        spikes, z = torch.empty_like(flat), torch.empty_like(flat)
        h = torch.empty((k, T, n), dtype=flat.dtype, device=flat.device)
        final = torch.empty((k, n), dtype=flat.dtype, device=flat.device)
        grid = (triton.cdiv(n, _TritonFused.BLOCK),)
        getattr(kernels, _rendering(prm) + "forward")[grid](
            flat, state0, prm, spikes, h, z, final, T, n, BLOCK=_TritonFused.BLOCK
        )
        _save(ctx, x, s0, (flat, state0, prm, h, z), kernels, surrogate, detach_reset, n_learn)
        return (spikes.reshape(x.shape), *[final[i].reshape(x.shape[1:]) for i in range(k)])

    @staticmethod
    def backward(ctx: Any, g_spikes: Tensor, *g_final: Tensor) -> Any:
        import triton

        flat, state0, prm, h, z = ctx.saved_tensors
        kernels, surrogate, detach_reset, n_learn, shape, s_shapes = ctx.meta
        T, n = flat.shape
        sg = surrogate.derivative(z).to(flat.dtype).contiguous()
        gs = g_spikes.reshape(T, n).to(flat.dtype).contiguous()
        gx, g_s0 = torch.empty_like(flat), torch.empty_like(state0)
        g_prm = _parameter_grads(n_learn, n, flat, flat.dtype)
        grid = (triton.cdiv(n, _TritonFused.BLOCK),)
        backward = getattr(kernels, _rendering(prm) + "backward")
        backward[grid](flat, state0, prm, h, z, sg, gs, _final_grads(g_final, flat),
                       gx, g_s0, g_prm, T, n, DETACH=bool(detach_reset),
                       BLOCK=_TritonFused.BLOCK)  # fmt: skip
        return _input_grads(gx, g_s0, g_prm, n_learn, shape, s_shapes, prm.dim() == 2)


class _Fused(torch.autograd.Function):
    """The numba kernels on the CPU."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, kernels: Any, decl: Declaration, fixed: Tensor,
                surrogate: Surrogate, detach_reset: bool, learn: Tensor, *s0: Tensor) -> Any:  # fmt: skip
        flat, state0, prm, n_learn = _kernel_inputs(x, decl, fixed, learn, s0)
        (T, n), k = flat.shape, len(decl.state)
        # recycled buffers: fresh large tensors cost a page fault per page on first touch
        spikes = POOL.empty((T, n), flat.dtype)
        h, final = POOL.empty((k, T, n), flat.dtype), POOL.empty((k, n), flat.dtype)
        getattr(kernels, _rendering(prm) + "forward")(
            flat.numpy(), state0.numpy(), prm.numpy(), spikes.numpy(), h.numpy(), final.numpy()
        )
        # the backward rebuilds the spikes from H: the output is not kept for it
        _save(ctx, x, s0, (flat, state0, prm, h), kernels, surrogate, detach_reset, n_learn)
        return (spikes.reshape(x.shape), *[final[i].reshape(x.shape[1:]) for i in range(k)])

    @staticmethod
    def backward(ctx: Any, g_spikes: Tensor, *g_final: Tensor) -> Any:
        from spikestack.kernels._plan import surrogate_constants

        flat, state0, prm, h = ctx.saved_tensors
        kernels, surrogate, detach_reset, n_learn, shape, s_shapes = ctx.meta
        T, n = flat.shape
        sid, (c0, c1, _) = surrogate_constants(surrogate)  # built-ins: evaluated in the kernel
        prefix = _rendering(prm)
        if sid == SurrogateId.CUSTOM:  # any other surrogate: its derivative as a tensor
            z = POOL.empty((T, n), flat.dtype)
            getattr(kernels, prefix + "fire_z")(h.numpy(), prm.numpy(), z.numpy())
            sg = surrogate.derivative(z).to(flat.dtype).contiguous()
            backward = getattr(kernels, prefix + "backward_custom")
        else:
            sg = torch.zeros((1, 1), dtype=flat.dtype)
            backward = getattr(kernels, f"{prefix}backward_{int(sid)}")
        scalar = np.float32 if flat.dtype == torch.float32 else np.float64
        gs = g_spikes.reshape(T, n)
        if gs.dtype != flat.dtype or not gs.is_contiguous():
            # a strided gradient (a sum's is stride 0) keeps numba's loops from vectorising:
            # one copy costs less (measured: ALIF's backward 31 -> 13 ms at N = 2^20)
            gs = POOL.empty((T, n), flat.dtype).copy_(gs)
        gx, g_s0 = POOL.empty((T, n), flat.dtype), POOL.empty(tuple(state0.shape), flat.dtype)
        g_prm = _parameter_grads(n_learn, n, flat, torch.float64)
        backward(flat.numpy(), state0.numpy(), prm.numpy(), h.numpy(), scalar(c0), scalar(c1),
                 sg.numpy(), gs.numpy(), _final_grads(g_final, flat).numpy(),
                 bool(detach_reset), gx.numpy(), g_s0.numpy(), g_prm.numpy())  # fmt: skip
        return _input_grads(gx, g_s0, g_prm, n_learn, shape, s_shapes, prm.dim() == 2)


def run_fused(target: str, x: Tensor, kernels: Any, decl: Declaration, fixed: Tensor,
              surrogate: Surrogate, detach_reset: bool, learn: Tensor,
              start: tuple[Tensor, ...]) -> tuple[Tensor, ...]:  # fmt: skip
    """``(spikes, *final state)`` of ``x`` through the generated ``kernels`` of ``target``
    ("numba" or "triton"), differentiable."""
    fused = _Fused if target == "numba" else _TritonFused
    return fused.apply(x, kernels, decl, fixed, surrogate, detach_reset, learn, *start)
