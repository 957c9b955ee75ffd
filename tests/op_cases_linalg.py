"""Rows of the differential op table (``test_ops.py``): matrix products and decompositions."""

from op_case import F16, F32, F64, I32, I64, B, OpCase  # noqa: F401


def _spd(t, x):
    """A well-conditioned symmetric positive-definite matrix (batch) from ``x``."""
    return x @ x.mT + t.eye(x.shape[-1], dtype=x.dtype)


def _lower(t, x):
    """A well-conditioned lower-triangular Cholesky factor, still depending on all of ``x``."""
    return t.linalg.cholesky(_spd(t, x))


def _usv(u, s, v):
    """``U diag(S) V^T``: unique, unlike U and V (their column signs)."""
    return (u * s.unsqueeze(-2)) @ v.mT


def _eigh_parts(t, x):
    w, v = t.linalg.eigh(_spd(t, x))
    return w, (v * w.unsqueeze(-2)) @ v.mT


def _qr_parts(q, r):
    return q @ r, q.mT @ q, r


# fmt: off
CASES: list[OpCase] = [
    # --- scaled products ---------------------------------------------------------------------------
    OpCase("addmm", lambda t, x, a, b: t.addmm(x, a, b), [(2, 4), (2, 3), (3, 4)], rtol=1e-4, atol=1e-5),
    OpCase("addmm_scaled_broadcast", lambda t, x, a, b: x.addmm(a, b, beta=0.5, alpha=2.0), [(4,), (2, 3), (3, 4)], F64),
    OpCase("addmm_beta0_nan", lambda t, a, b: t.full((2, 4), float("nan"), dtype=a.dtype).addmm(a, b, beta=0), [(2, 3), (3, 4)], F64),
    OpCase("addmm_int", lambda t, x, a, b: t.addmm(x, a, b, alpha=2), [(2, 4), (2, 3), (3, 4)], I64),
    OpCase("error_addmm_shapes", lambda t, x, a, b: t.addmm(x, a, b), [(2, 4), (2, 3), (2, 4)], message=True),
    OpCase("error_addmm_dtype", lambda t, x, a, b: t.addmm(x, a, b), [(2, 4), (2, 3), (3, 4)], [F32, F32, F64], message=True),
    OpCase("error_addmm_self_dtype", lambda t, x, a, b: t.addmm(x, a, b), [(2, 4), (2, 3), (3, 4)], [F32, F64, F64], message=True),
    OpCase("error_addmv_dtype", lambda t, x, a, v: t.addmv(x, a, v), [(2,), (2, 3), (3,)], [F64, F32, F64], message=True),
    OpCase("error_addmv_size", lambda t, x, a, v: t.addmv(x, a, v), [(2,), (2, 3), (2,)], message=True),
    OpCase("addmv", lambda t, x, a, v: t.addmv(x, a, v), [(2,), (2, 3), (3,)], F64),
    OpCase("addmv_scaled", lambda t, x, a, v: x.addmv(a, v, beta=2, alpha=-1.5), [(1,), (2, 3), (3,)], F64),
    OpCase("addr", lambda t, x, v, w: t.addr(x, v, w), [(2, 3), (2,), (3,)], F64),
    OpCase("addr_scaled", lambda t, x, v, w: x.addr(v, w, beta=0.5, alpha=3), [(3,), (2,), (3,)], F64),
    OpCase("addbmm", lambda t, x, a, b: t.addbmm(x, a, b), [(3, 5), (2, 3, 4), (2, 4, 5)], F64),
    OpCase("addbmm_scaled", lambda t, x, a, b: x.addbmm(a, b, beta=0.25, alpha=2), [(5,), (2, 3, 4), (2, 4, 5)], F64),
    # --- vector products ---------------------------------------------------------------------------
    OpCase("vdot", lambda t, x, y: t.vdot(x, y), [(5,), (5,)], F64),
    OpCase("vdot_method", lambda t, x, y: x.vdot(y), [(4,), (4,)], rtol=1e-4, atol=1e-5),
    OpCase("error_vdot_dtype", lambda t, x, y: t.vdot(x, y), [(4,), (4,)], [F32, F64], message=True),
    OpCase("error_vdot_2d", lambda t, x, y: t.vdot(x, y), [(2, 2), (4,)], message=True),
    OpCase("cross", lambda t, x, y: t.cross(x, y, dim=1), [(2, 3), (2, 3)], F64),
    OpCase("cross_default_dim", lambda t, x, y: t.cross(x, y), [(3, 2), (3, 2)], F64),
    OpCase("cross_method", lambda t, x, y: x.cross(y, dim=-1), [(4, 3), (4, 3)], F64),
    OpCase("linalg_cross_broadcast", lambda t, x, y: t.linalg.cross(x, y), [(2, 1, 3), (1, 4, 3)], F64),
    OpCase("linalg_cross_int", lambda t, x, y: t.linalg.cross(x, y), [(2, 3), (2, 3)], I64),
    OpCase("error_linalg_cross_size", lambda t, x, y: t.linalg.cross(x, y), [(2, 4), (2, 4)], message=True),
    OpCase("kron", lambda t, x, y: t.kron(x, y), [(2, 3), (3, 2)], F64),
    OpCase("kron_1d_2d", lambda t, x, y: x.kron(y), [(2,), (3, 2)], F64),
    OpCase("kron_3d", lambda t, x, y: t.kron(x, y), [(2, 1, 2), (2, 2)], F64),
    OpCase("dist", lambda t, x, y: t.dist(x, y), [(3, 4), (3, 4)], F64),
    OpCase("dist_p1_broadcast", lambda t, x, y: x.dist(y, 1), [(3, 4), (4,)], F64),
    OpCase("dist_inf", lambda t, x, y: t.dist(x, y, float("inf")), [(5,), (5,)], F64),
    OpCase("dist_p3", lambda t, x, y: t.dist(x, y, 3), [(2, 3), (2, 3)], F64),
    OpCase("linalg_vecdot", lambda t, x, y: t.linalg.vecdot(x, y), [(3, 4), (3, 4)], F64),
    OpCase("linalg_vecdot_dim", lambda t, x, y: t.linalg.vecdot(x, y, dim=0), [(3, 4), (3, 1)], F64),
    OpCase("error_linalg_vecdot_dtype", lambda t, x, y: t.linalg.vecdot(x, y), [(3,), (3,)], [F32, F64], message=True),
    OpCase("linalg_multi_dot", lambda t, a, b, c: t.linalg.multi_dot([a, b, c]), [(2, 3), (3, 4), (4, 5)], F64),
    OpCase("linalg_multi_dot_right_first", lambda t, a, b, c: t.linalg.multi_dot([a, b, c]), [(5, 4), (4, 3), (3, 1)], F64),
    OpCase("linalg_multi_dot_two", lambda t, a, b: t.linalg.multi_dot((a, b)), [(2, 3), (3, 4)], F64),
    OpCase("linalg_multi_dot_vectors", lambda t, v, a, b, w: t.linalg.multi_dot([v, a, b, w]), [(3,), (3, 4), (4, 2), (2,)], F64),
    # --- diagonals ---------------------------------------------------------------------------------
    OpCase("diag_embed", lambda t, x: t.diag_embed(x), [(2, 3)]),
    OpCase("diag_embed_offset", lambda t, x: x.diag_embed(1), [(2, 3)]),
    OpCase("diag_embed_negative_offset_dims", lambda t, x: t.diag_embed(x, -2, 0, 2), [(2, 3)]),
    OpCase("diag_embed_dims_swapped", lambda t, x: t.diag_embed(x, 1, dim1=-1, dim2=0), [(4,)]),
    OpCase("error_diag_embed_same_dims", lambda t, x: t.diag_embed(x, 0, 1, 1), [(4,)], message=True),
    OpCase("diagflat", lambda t, x: t.diagflat(x), [(2, 2)]),
    OpCase("diagflat_offset", lambda t, x: x.diagflat(-1), [(3,)]),
    # --- determinants, inverses, powers ------------------------------------------------------------
    OpCase("det", lambda t, x: t.det(x), [(3, 3)], F64),
    OpCase("det_batched_method", lambda t, x: x.det(), [(2, 4, 4)], F64),
    OpCase("linalg_det", lambda t, x: t.linalg.det(x), [(3, 3)], F64),
    OpCase("error_det_int", lambda t, x: t.det(x), [(3, 3)], I64, message=True),
    OpCase("error_det_not_square", lambda t, x: t.linalg.det(x), [(2, 3)], message=True),
    OpCase("logdet", lambda t, x: t.logdet(_spd(t, x)), [(3, 3)], F64),
    OpCase("logdet_negative_nan", lambda t, x: t.logdet(x * t.tensor([-1.0, 1.0], dtype=x.dtype)), [(2, 2)], F64, grad=False, low=1.0, high=2.0),
    OpCase("slogdet", lambda t, x: t.slogdet(x), [(3, 3)], F64),
    OpCase("slogdet_method_batched", lambda t, x: x.slogdet(), [(2, 3, 3)], F64),
    OpCase("linalg_slogdet", lambda t, x: t.linalg.slogdet(x), [(4, 4)], F64),
    OpCase("slogdet_type", lambda t, x: type(t.slogdet(x)).__name__ + type(t.linalg.slogdet(x)).__name__, [(2, 2)]),
    OpCase("inverse", lambda t, x: t.inverse(_spd(t, x)), [(3, 3)], F64),
    OpCase("inverse_method_batched", lambda t, x: x.inverse(), [(2, 3, 3)], F64),
    OpCase("linalg_inv", lambda t, x: t.linalg.inv(x), [(4, 4)], F64),
    OpCase("error_inverse_not_square", lambda t, x: t.inverse(x), [(2, 3)], message=True),
    OpCase("error_inverse_1d", lambda t, x: t.linalg.inv(x), [(3,)], message=True),
    # LAPACK's failures, which torch raises as LinAlgError: JAX leaves NaNs and infinities.
    OpCase("error_inverse_singular", lambda t, x: t.inverse(x * t.tensor([[1.0], [2.0]])), [(1, 2)], message=True),
    OpCase("error_linalg_inv_singular_batched", lambda t, x: t.linalg.inv(t.stack([t.eye(3), x * 0])), [(3, 3)], message=True),
    OpCase("error_linalg_solve_singular", lambda t, x, b: t.linalg.solve(x.expand(3, 3), b), [(1, 3), (3,)], message=True),
    OpCase("error_linalg_solve_singular_batched", lambda t, x, b: t.linalg.solve(t.stack([t.eye(2), x.expand(2, 2)]), b), [(1, 2), (2, 2)], message=True),
    OpCase("linalg_inv_nan_is_no_error", lambda t, x: t.linalg.inv(x * float("nan")).isnan().all(), [(3, 3)], grad=False),
    OpCase("linalg_inv_ex_info", lambda t, x: t.linalg.inv_ex(t.stack([t.eye(3), x * 0])).info, [(3, 3)]),
    *(
        OpCase(f"matrix_power_{name}", lambda t, x, n=n: t.matrix_power(x, n), [(3, 3)], F64)
        for name, n in (("0", 0), ("1", 1), ("2", 2), ("3", 3), ("6", 6), ("m1", -1), ("m3", -3))
    ),
    OpCase("matrix_power_batched_method", lambda t, x: x.matrix_power(5), [(2, 3, 3)], F64),
    OpCase("linalg_matrix_power", lambda t, x: t.linalg.matrix_power(x, 4), [(3, 3)], F64),
    OpCase("error_matrix_power_not_square", lambda t, x: t.matrix_power(x, 2), [(2, 3)], message=True),
    OpCase("matrix_exp", lambda t, x: t.matrix_exp(x), [(3, 3)], F64),
    OpCase("matrix_exp_batched_method", lambda t, x: x.matrix_exp(), [(2, 4, 4)], F64),
    OpCase("matrix_exp_f32", lambda t, x: t.linalg.matrix_exp(x), [(3, 3)], rtol=1e-4, atol=1e-5),
    OpCase("pinverse", lambda t, x: t.pinverse(x), [(3, 4)], F64),
    OpCase("pinverse_tall_method", lambda t, x: x.pinverse(), [(4, 2)], F64),
    OpCase("linalg_pinv", lambda t, x: t.linalg.pinv(x), [(2, 4, 3)], F64),
    OpCase("linalg_pinv_hermitian", lambda t, x: t.linalg.pinv(_spd(t, x), hermitian=True), [(3, 3)], F64),
    OpCase("linalg_pinv_rank_deficient", lambda t, x: t.linalg.pinv(x[:, :1] * x[:1], rtol=1e-8), [(3, 3)], F64, grad=False),
    # --- factorizations ----------------------------------------------------------------------------
    OpCase("cholesky", lambda t, x: t.cholesky(_spd(t, x)), [(3, 3)], F64),
    OpCase("cholesky_upper_method", lambda t, x: _spd(t, x).cholesky(upper=True), [(2, 3, 3)], F64),
    OpCase("cholesky_reads_lower_triangle", lambda t, x, y: t.cholesky(_spd(t, x) + y.triu(1)), [(3, 3), (3, 3)], F64),
    OpCase("linalg_cholesky_upper_reads_upper", lambda t, x, y: t.linalg.cholesky(_spd(t, x) + 0.2 * y.triu(1), upper=True), [(3, 3), (3, 3)], F64),
    OpCase("linalg_eigh_reads_lower_triangle", lambda t, x, y: t.linalg.eigvalsh(_spd(t, x) + y.triu(1)), [(3, 3), (3, 3)], F64),
    OpCase("error_linalg_matrix_norm_ord", lambda t, x: t.linalg.matrix_norm(x, 3), [(2, 2)], message=True),
    OpCase("linalg_cholesky", lambda t, x: t.linalg.cholesky(_spd(t, x)), [(4, 4)], F64),
    OpCase("linalg_cholesky_upper", lambda t, x: t.linalg.cholesky(_spd(t, x), upper=True), [(3, 3)], F64),
    OpCase("error_cholesky_not_positive_definite", lambda t, x: t.cholesky(-_spd(t, x)), [(3, 3)], F64, message=True),
    OpCase("error_linalg_cholesky_minor_3", lambda t, x: t.linalg.cholesky(t.block_diag(_spd(t, x), -t.eye(2, dtype=x.dtype))), [(2, 2)], F64, message=True),
    OpCase("error_linalg_cholesky_upper_reads_upper", lambda t, x: t.linalg.cholesky(_spd(t, x) - 9 * t.ones(3, 3, dtype=x.dtype).triu(1), upper=True), [(3, 3)], F64, message=True),
    OpCase("error_linalg_cholesky_batched", lambda t, x: t.linalg.cholesky(t.stack([_spd(t, x), -_spd(t, x)])), [(2, 2)], F64, message=True),
    OpCase("error_linalg_cholesky_nan", lambda t, x: t.linalg.cholesky(x * float("nan")), [(2, 2)], message=True),
    OpCase("linalg_cholesky_ex", lambda t, x: t.linalg.cholesky_ex(_spd(t, x)), [(3, 3)], F64),
    OpCase("linalg_cholesky_ex_info", lambda t, x: t.linalg.cholesky_ex(t.block_diag(_spd(t, x), -t.eye(2, dtype=x.dtype)), upper=True).info, [(3, 3)], F64),
    OpCase("error_linalg_cholesky_ex_check_errors", lambda t, x: t.linalg.cholesky_ex(t.stack([_spd(t, x), -_spd(t, x)]), check_errors=True), [(2, 2)], F64, message=True),
    OpCase("cholesky_solve", lambda t, b, x: t.cholesky_solve(b, _lower(t, x)), [(3, 2), (3, 3)], F64),
    OpCase("cholesky_solve_upper", lambda t, b, x: b.cholesky_solve(_lower(t, x).mT, upper=True), [(2, 3, 2), (2, 3, 3)], F64),
    OpCase("cholesky_solve_full_factor", lambda t, b, x: t.cholesky_solve(b, x + 3 * t.eye(3, dtype=x.dtype)), [(3, 2), (3, 3)], F64),
    OpCase("cholesky_inverse", lambda t, x: t.cholesky_inverse(_lower(t, x)), [(3, 3)], F64),
    OpCase("cholesky_inverse_upper", lambda t, x: _lower(t, x).mT.cholesky_inverse(upper=True), [(3, 3)], F64),
    OpCase("cholesky_inverse_full_factor", lambda t, x: t.cholesky_inverse(x + 3 * t.eye(3, dtype=x.dtype)), [(3, 3)], F64),
    OpCase("qr", lambda t, x: _qr_parts(*t.qr(x)), [(4, 3)], F64),
    OpCase("qr_values", lambda t, x: t.qr(x), [(4, 3)], F64, grad=False),
    OpCase("qr_complete", lambda t, x: t.qr(x, some=False), [(4, 3)], F64, grad=False),
    OpCase("linalg_qr", lambda t, x: _qr_parts(*t.linalg.qr(x)), [(2, 3, 3)], F64),
    OpCase("linalg_qr_wide", lambda t, x: _qr_parts(*t.linalg.qr(x)), [(3, 3)], F64),
    OpCase("qr_type", lambda t, x: type(t.qr(x)).__name__ + type(t.linalg.qr(x)).__name__, [(2, 2)]),
    OpCase("svd", lambda t, x: (lambda u, s, v: (s, _usv(u, s, v)))(*t.svd(x)), [(4, 3)], F64),
    OpCase("svd_wide_method", lambda t, x: (lambda u, s, v: (s, _usv(u, s, v)))(*x.svd()), [(2, 3, 5)], F64),
    OpCase("svd_no_uv", lambda t, x: t.svd(x, compute_uv=False), [(4, 3)], F64),
    OpCase("svd_type", lambda t, x: type(t.svd(x)).__name__ + type(t.linalg.svd(x)).__name__, [(2, 2)]),
    OpCase("linalg_svd", lambda t, x: (lambda u, s, vh: (s, _usv(u, s, vh.mT)))(*t.linalg.svd(x, full_matrices=False)), [(4, 3)], F64),
    OpCase("linalg_svd_square", lambda t, x: (lambda u, s, vh: (s, _usv(u, s, vh.mT)))(*t.linalg.svd(x)), [(3, 3)], F64),
    OpCase("linalg_svdvals", lambda t, x: t.linalg.svdvals(x), [(2, 3, 4)], F64),
    OpCase("triangular_solve", lambda t, b, a: t.triangular_solve(b, a.triu() + 3 * t.eye(3, dtype=a.dtype)), [(3, 2), (3, 3)], F64),
    OpCase("triangular_solve_lower_t", lambda t, b, a: b.triangular_solve(a + 3 * t.eye(3, dtype=a.dtype), upper=False, transpose=True), [(3, 2), (3, 3)], F64),
    OpCase("triangular_solve_unit", lambda t, b, a: t.triangular_solve(b, a, unitriangular=True), [(2, 3, 2), (2, 3, 3)], F64),
    OpCase("linalg_eigh", lambda t, x: _eigh_parts(t, x), [(4, 4)], F64),
    OpCase("linalg_eigh_batched", lambda t, x: _eigh_parts(t, x), [(2, 3, 3)], F64),
    OpCase("linalg_eigh_upper", lambda t, x: t.linalg.eigh(_spd(t, x), UPLO="U")[0], [(3, 3)], F64),
    OpCase("linalg_eigh_type", lambda t, x: type(t.linalg.eigh(_spd(t, x))).__name__, [(2, 2)]),
    OpCase("linalg_eigvalsh", lambda t, x: t.linalg.eigvalsh(_spd(t, x)), [(4, 4)], F64),
    OpCase("linalg_eigvalsh_upper_triangle", lambda t, x: t.linalg.eigvalsh(x + 4 * t.eye(3, dtype=x.dtype), UPLO="U"), [(3, 3)], F64),
    # --- solvers -----------------------------------------------------------------------------------
    OpCase("linalg_solve", lambda t, a, b: t.linalg.solve(a, b), [(3, 3), (3, 2)], F64),
    OpCase("linalg_solve_vector", lambda t, a, b: t.linalg.solve(a, b), [(3, 3), (3,)], F64),
    OpCase("linalg_solve_batched_vector", lambda t, a, b: t.linalg.solve(a, b), [(2, 3, 3), (2, 3)], F64),
    OpCase("linalg_solve_broadcast", lambda t, a, b: t.linalg.solve(a, b), [(3, 3), (2, 3, 4)], F64),
    OpCase("linalg_solve_right", lambda t, a, b: t.linalg.solve(a, b, left=False), [(3, 3), (2, 3)], F64),
    OpCase("linalg_solve_triangular", lambda t, a, b: t.linalg.solve_triangular(a + 3 * t.eye(3, dtype=a.dtype), b, upper=True), [(3, 3), (3, 2)], F64),
    OpCase("linalg_solve_triangular_right_unit", lambda t, a, b: t.linalg.solve_triangular(a, b, upper=False, left=False, unitriangular=True), [(2, 3, 3), (2, 4, 3)], F64),
    OpCase("linalg_lstsq_tall", lambda t, a, b: t.linalg.lstsq(a, b), [(5, 3), (5, 2)], F64),
    OpCase("linalg_lstsq_wide_batched", lambda t, a, b: t.linalg.lstsq(a, b), [(2, 2, 3), (2, 2, 4)], F64),
    OpCase("linalg_lstsq_vector", lambda t, a, b: t.linalg.lstsq(a, b), [(4, 3), (4,)], F64),
    OpCase("linalg_lstsq_rank_deficient", lambda t, a, b: t.linalg.lstsq(a[:, :1] * a[:1], b), [(3, 3), (3, 2)], F64, grad=False),
    OpCase("error_linalg_lstsq_dtype", lambda t, a, b: t.linalg.lstsq(a, b), [(3, 3), (3,)], [F32, F64], message=True),
    OpCase("linalg_matmul", lambda t, a, b: t.linalg.matmul(a, b), [(2, 3), (3, 4)], F64),
    OpCase("linalg_diagonal", lambda t, a: t.linalg.diagonal(a, offset=1), [(2, 3, 4)]),
    OpCase("linalg_inv_ex", lambda t, a: t.linalg.inv_ex(a), [(2, 3, 3)], F64),
    OpCase("linalg_inv_ex_singular_info", lambda t, a: t.linalg.inv_ex(a * t.tensor([1.0, 0.0, 1.0], dtype=a.dtype))[1], [(2, 3, 3)], F64),
    OpCase("error_linalg_inv_ex_check_batched", lambda t, a: t.linalg.inv_ex(a * t.tensor([[[1.0]], [[0.0]]], dtype=a.dtype), check_errors=True), [(2, 3, 3)], F64, message=True),
    OpCase("error_linalg_inv_ex_check", lambda t, a: t.linalg.inv_ex(t.zeros(3, 3, dtype=a.dtype), check_errors=True), [(3, 3)], F64, message=True),
    OpCase("linalg_solve_ex", lambda t, a, b: t.linalg.solve_ex(a, b), [(3, 3), (3, 2)], F64),
    OpCase("error_linalg_solve_ex_check", lambda t, a, b: t.linalg.solve_ex(a * 0, b, check_errors=True), [(3, 3), (3,)], F64, message=True),
    OpCase("linalg_lu_factor", lambda t, a: t.linalg.lu_factor(a), [(4, 4)], F64),
    OpCase("linalg_lu_factor_batched", lambda t, a: t.linalg.lu_factor(a), [(2, 3, 3)], F64),
    OpCase("linalg_lu", lambda t, a: t.linalg.lu(a), [(4, 4)], F64),
    OpCase("linalg_lu_batched", lambda t, a: t.linalg.lu(a), [(2, 3, 3)], F64),
    OpCase("linalg_lu_solve", lambda t, a, b: t.linalg.lu_solve(*t.linalg.lu_factor(a), b), [(3, 3), (3, 2)], F64),
    OpCase("linalg_lu_solve_right_adjoint", lambda t, a, b: t.linalg.lu_solve(*t.linalg.lu_factor(a), b, left=False, adjoint=True), [(2, 3, 3), (2, 4, 3)], F64),
    OpCase("linalg_lu_solve_lu_leaf", lambda t, a, b: t.linalg.lu_solve(a + 3 * t.eye(3, dtype=a.dtype), t.tensor([2, 2, 3], dtype=t.int32), b), [(3, 3), (3, 2)], F64),
    OpCase("linalg_vander", lambda t, x: t.linalg.vander(x), [(2, 3)], F64),
    OpCase("linalg_vander_n", lambda t, x: t.linalg.vander(x, N=5), [(3,)], F64),
    OpCase("linalg_vander_int", lambda t, x: t.linalg.vander(x), [(4,)], I64),
    OpCase("error_linalg_vander_n1", lambda t, x: t.linalg.vander(x, N=1), [(4,)], message=True),
    OpCase("error_linalg_solve_dtype", lambda t, a, b: t.linalg.solve(a, b), [(3, 3), (3,)], [F64, F32], message=True),
    # --- norms and rank ----------------------------------------------------------------------------
    OpCase("linalg_vector_norm", lambda t, x: t.linalg.vector_norm(x), [(3, 4)], F64),
    OpCase("linalg_vector_norm_dim", lambda t, x: t.linalg.vector_norm(x, 1, dim=1, keepdim=True), [(3, 4)], F64),
    OpCase("linalg_vector_norm_inf", lambda t, x: t.linalg.vector_norm(x, float("inf"), dim=(0, 2)), [(2, 3, 4)], F64),
    OpCase("linalg_vector_norm_p3_dtype", lambda t, x: t.linalg.vector_norm(x, 3, dtype=t.float64), [(5,)]),
    OpCase("error_linalg_vector_norm_int", lambda t, x: t.linalg.vector_norm(x), [(3,)], I64, message=True),
    *(
        OpCase(f"linalg_matrix_norm_{name}", lambda t, x, o=o: t.linalg.matrix_norm(x, o), [(2, 3, 4)], F64)
        for name, o in (("fro", "fro"), ("nuc", "nuc"), ("2", 2), ("m2", -2), ("1", 1), ("m1", -1),
                        ("inf", float("inf")), ("minf", -float("inf")))
    ),
    *(
        OpCase(f"linalg_matrix_norm_{name}_keepdim_dims", lambda t, x, o=o: t.linalg.matrix_norm(x, o, dim=(2, 0), keepdim=True), [(3, 2, 4)], F64)
        for name, o in (("fro", "fro"), ("nuc", "nuc"), ("2", 2), ("1", 1), ("inf", float("inf")))
    ),
    OpCase("linalg_matrix_norm_1_dims", lambda t, x: t.linalg.matrix_norm(x, 1, dim=(2, 0)), [(3, 2, 4)], F64),
    OpCase("linalg_norm", lambda t, x: t.linalg.norm(x), [(2, 3, 4)], F64),
    OpCase("linalg_norm_vector_ord", lambda t, x: t.linalg.norm(x, 3), [(5,)], F64),
    OpCase("linalg_norm_matrix_ord", lambda t, x: t.linalg.norm(x, "nuc"), [(3, 4)], F64),
    OpCase("linalg_norm_dim", lambda t, x: t.linalg.norm(x, dim=1), [(3, 4)], F64),
    OpCase("linalg_norm_dims", lambda t, x: t.linalg.norm(x, 1, dim=(0, 1), keepdim=True), [(3, 4, 2)], F64),
    OpCase("linalg_matrix_rank", lambda t, x: t.linalg.matrix_rank(x), [(3, 4)], F64),
    OpCase("linalg_matrix_rank_deficient", lambda t, x: t.linalg.matrix_rank(x[..., :1] * x[..., :1, :]), [(2, 3, 3)], F64),
    OpCase("linalg_matrix_rank_hermitian_atol", lambda t, x: t.linalg.matrix_rank(_spd(t, x), atol=2.0, hermitian=True), [(4, 4)], F64),
]
# fmt: on
