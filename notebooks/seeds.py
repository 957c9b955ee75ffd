"""The seed tutorials' code cells, as the tutorials wrote them (only ``import torch`` removed).

One copy serves both their users: ``notebooks/build.py`` writes them into the notebooks, and
``tests/test_seeds.py`` runs them under tape and under torch and compares what they print.
"""

# --- 001: "Practice automatic differentiation with autograd" (whole; pseudo-code lines left out).
SEED_001 = [
    """
x = torch.rand(3, 7, requires_grad=True)
print(x)
""",
    """
x = torch.ones(2, 4, requires_grad=True)
print(x)
y = x + 1
print(y)
print(y.grad_fn)
""",
    """
x = torch.rand(4, 3, requires_grad=True)
print(x)
print(x.detach_())
""",
    """
x = torch.rand(4, 3, requires_grad=True)
print(x)
print(x.requires_grad_(False))
""",
    """
real = torch.rand(3, 8)
print(real)
predicted = torch.rand(3, 8, requires_grad=True)
print(predicted)
loss = (predicted - real).pow(2).sum()
with torch.no_grad():
    manual_gradient_predicted = 2.0 * (predicted - real)
print(manual_gradient_predicted)
loss.backward()
auto_gradient_predicted = predicted.grad
print(auto_gradient_predicted)
print(manual_gradient_predicted.eq(auto_gradient_predicted).all())
""",
]

# --- 003: "Automatic Differentiation with torch.autograd" (Learn the Basics), whole.
SEED_003 = [
    """
x = torch.ones(5) # input tensor
y = torch.zeros(3) # expected output
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w)+b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
""",
    """
print(f"Gradient function for z = {z.grad_fn}")
print(f"Gradient function for loss = {loss.grad_fn}")
""",
    """
loss.backward()
print(w.grad)
print(b.grad)
""",
    """
z = torch.matmul(x, w)+b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w)+b
print(z.requires_grad)
""",
    """
z = torch.matmul(x, w)+b
z_det = z.detach()
print(z_det.requires_grad)
""",
    """
inp = torch.eye(5, requires_grad=True)
out = (inp+1).pow(2)
out.backward(torch.ones_like(inp), retain_graph=True)
print(f"First call\\n{inp.grad}")
out.backward(torch.ones_like(inp), retain_graph=True)
print(f"\\nSecond call\\n{inp.grad}")
inp.grad.zero_()
out.backward(torch.ones_like(inp), retain_graph=True)
print(f"\\nCall after zeroing gradients\\n{inp.grad}")
""",
]

# --- 000: the blitz tutorial's autograd sections (the resnet18 parts are out of scope).
SEED_000 = [
    """
a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
""",
    """
Q = 3*a**3 - b**2
""",
    """
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
""",
    """
# check if collected gradients are correct
print(9*a**2 == a.grad)
print(-2*b == b.grad)
""",
    """
x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)
a = x + y
print(f"Does `a` require gradients? : {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")
""",
]

# --- 002: the executed notebook, autograd cells in the order they appear (In [18] .. [22]).
SEED_002 = [
    """
a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
""",
    "Q = 3*a**3 - b**2",
    "Q.backward(torch.tensor([1, 1]))",
    "a.grad, b.grad",
    # Q's graph was freed by the previous backward: torch raises here, and so must tape.
    "Q.sum().backward()",
    """
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
""",
    """
# check if collected gradients are correct
print(9*a**2 == a.grad)
print(-2*b == b.grad)
""",
    # The notebook's own order: recreate Q, then the cells again (In [19], [11], [12], [14]).
    "Q = 3*a**3 - b**2",
    "Q.backward(torch.tensor([1, 1]), retain_graph=True)",
    "a.grad, b.grad",
    "Q.sum().backward()",
    "a.grad, b.grad",
    """
x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)

a = x + y
print(f"Does `a` require gradients? : {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")
""",
]
