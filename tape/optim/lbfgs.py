"""L-BFGS (``torch.optim.LBFGS``): quasi-Newton steps on all parameters as one flat vector.

Each ``step(closure)`` runs up to ``max_iter`` iterations, calling ``closure`` (which computes
the loss and its gradients) once per iteration. The direction comes from the two-loop
recursion over the last ``history_size`` steps and gradient changes; the step length is ``lr``
(``min(1, 1 / |g|_1) * lr`` on the very first iteration). Its state is torch's, under the
first parameter. The strong-Wolfe line search is not in tape.
"""

from __future__ import annotations

from tape.autograd import grad_mode
from tape.optim.optimizer import Optimizer


class LBFGS(Optimizer):
    """L-BFGS over the single parameter group (torch's arguments and defaults)."""

    def __init__(
        self,
        params,
        lr=1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        if line_search_fn == "strong_wolfe":
            raise NotImplementedError(
                "LBFGS(line_search_fn='strong_wolfe') is not implemented in tape; use the "
                "default fixed step (line_search_fn=None)"
            )
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self):
        from tape import cat

        return cat(
            [
                p.new_zeros(p.numel()) if p.grad is None else p.grad.reshape(-1)
                for p in self._params
            ],
            0,
        )

    def _add_to_params(self, step: float, direction) -> None:
        """params += step * direction, each parameter its slice of the flat vector."""
        offset = 0
        with grad_mode.no_grad():
            for p in self._params:
                n = p.numel()
                p.add_(direction[offset : offset + n].view_as(p), alpha=step)
                offset += n

    def step(self, closure):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss ``closure`` gave first."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with grad_mode.enable_grad():
            orig_loss = closure()
        loss = float(orig_loss.detach())
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if float(flat_grad.abs().max()) <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, al = state.get("H_diag"), state.get("al")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if float(ys) > 1e-10:  # a curvature pair worth keeping
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                # the two-loop recursion: d = -H g
                al = [None] * history_size
                q = -flat_grad
                for i in reversed(range(len(old_dirs))):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q = q - old_dirs[i] * al[i]
                d = r = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r = r + old_stps[i] * (al[i] - be_i)
                d = r
            prev_flat_grad = flat_grad.clone()
            prev_loss = loss
            t = min(1.0, 1.0 / float(flat_grad.abs().sum())) * lr if state["n_iter"] == 1 else lr
            if float(flat_grad.dot(d)) > -tolerance_change:  # not a descent direction
                break
            if group["line_search_fn"] is not None:
                raise RuntimeError("only 'strong_wolfe' is supported")
            self._add_to_params(t, d)
            done = n_iter == max_iter
            if not done:
                with grad_mode.enable_grad():
                    loss = float(closure().detach())
                flat_grad = self._flat_grad()
                evals += 1
                state["func_evals"] += 1
            if (
                done
                or evals >= max_eval
                or float(flat_grad.abs().max()) <= tolerance_grad
                or float((d * t).abs().max()) <= tolerance_change
                or abs(loss - prev_loss) < tolerance_change
            ):
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag)
        state.update(prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        if al is not None:
            state["al"] = al
        return orig_loss
