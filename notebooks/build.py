"""Write the notebooks in this folder from the cells below (the one script that makes them).

    python notebooks/build.py            # write the .ipynb files, without outputs
    python notebooks/build.py --execute  # also run each top to bottom and keep the outputs

The code cells are the seed tutorials' code (``seeds.py``, which tests/test_seeds.py runs too)
with only the imports changed (``import tape as torch``, ``from tape import nn, optim``,
``import models`` for ``torchvision.models``); the prose is ours. Cells marked ``tape:`` are
additions (the DAG picture that replaces the tutorial's static figure). Cells tagged
``raises-exception`` raise in PyTorch too.
"""

from __future__ import annotations

import argparse
import os
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # seeds.py, beside this script, holds the tutorials' code cells
from seeds import SEED_000, SEED_001, SEED_002, SEED_003  # noqa: E402


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str, *tags: str):
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


# --- cells that notebooks 00 and 02 share (both run the blitz tutorial's autograd part) ----

RESNET_STEP = """
import tape as torch
import models
model = models.resnet18(pretrained=True)
data = torch.rand(1, 3, 64, 64)
labels = torch.rand(1, 1000)
"""
LOSS_BACKWARD = """
loss = (prediction - labels).sum()
loss.backward() # backward pass
"""
DAG_FIGURE = """
# tape: the figure of the DAG, drawn from Q itself
from tape.viz import draw_graph

draw_graph(Q, {"a": a, "b": b}, name="Q")
"""
OPTIMIZE_CLASSIFIER = """
# Optimize only the classifier
optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
"""

# --- 00: "A Gentle Introduction to torch.autograd" (seed 000) ---------------------------------

NB00 = [
    md("""
# A gentle introduction to autograd, on tape

This notebook follows PyTorch's blitz tutorial *A Gentle Introduction to `torch.autograd`* and
runs its code on **tape**. Only the imports differ: `import tape as torch` stands for PyTorch,
and `import models` (tape's model zoo) stands for `torchvision.models`.

## Why autograd

A neural network is a chain of functions whose behaviour is set by *parameters* (weights and
biases), kept in tensors. Training repeats two moves:

* the **forward pass** runs an input through the chain and produces a guess;
* the **backward pass** measures how wrong the guess was, works out how much each parameter
  contributed to that error (its *gradient*), and nudges every parameter against its gradient.

Autograd is the part that does the second move for you: it remembers the operations of the
forward pass and applies the chain rule backwards through them.
"""),
    md("""
## One training step

We take a ResNet-18 with pretrained weights, a random "image" with 3 channels of 64x64 pixels,
and random targets for its 1000 outputs. (tape reads the weights from the torchvision cache,
`$TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth`; nothing is downloaded if the file is there.)
"""),
    code(RESNET_STEP),
    md("Calling the model on the data is the forward pass: each layer in turn transforms it."),
    code("prediction = model(data) # forward pass"),
    md("""
The error is a single number computed from the prediction and the targets. Calling
`.backward()` on it starts the backward pass, after which every parameter of the model has its
gradient in `.grad`.
"""),
    code(LOSS_BACKWARD),
    md("""
An optimizer holds the parameters and knows how to update them. Here it is stochastic gradient
descent with learning rate 0.01 and momentum 0.9.
"""),
    code("optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)"),
    md(
        "`step()` moves each parameter a little against its gradient: one step of gradient descent."
    ),
    code("optim.step() #gradient descent"),
    md("""
That is a whole training step. The rest of the notebook looks at how autograd gets there.

## How autograd collects gradients

Two tensors created with `requires_grad=True` tell autograd to record every operation that
involves them.
"""),
    code("import tape as torch\n" + SEED_000[0]),
    md(r"""
From them we build $Q = 3a^3 - b^2$. Think of `a` and `b` as parameters and of `Q` as the
error: we want $\partial Q/\partial a = 9a^2$ and $\partial Q/\partial b = -2b$.
"""),
    code(SEED_000[1]),
    md(r"""
`Q` holds two numbers, not one, so `backward` needs to be told how to weigh them: the
`gradient` argument has `Q`'s shape and plays the role of $dQ/dQ$. A vector of ones asks for
the plain sum; `Q.sum().backward()` would do the same.
"""),
    code(SEED_000[2]),
    md("The gradients now sit in `a.grad` and `b.grad`, and they agree with the formulas:"),
    code(SEED_000[3]),
    md(r"""
### What `backward` computes: vector-Jacobian products

For a function $\vec{y} = f(\vec{x})$ with vector input and output, the full derivative is the
Jacobian matrix $J$, with $J_{ij} = \partial y_i / \partial x_j$. Autograd never builds $J$.
Given a vector $\vec{v}$ (the `gradient` argument), it computes the product $J^T \vec{v}$
directly. When $\vec{v}$ is the gradient of a scalar $l$ with respect to $\vec{y}$, the chain
rule says that $J^T \vec{v}$ is exactly the gradient of $l$ with respect to $\vec{x}$, which is
why `external_grad` above gave us the gradients of `Q.sum()`.

## The graph

While the forward pass runs, autograd builds a directed acyclic graph (DAG). Each operation
adds a node that knows how to compute its own backward step (its `grad_fn`), linked to the
nodes of its inputs; the leaves are the tensors we created, the root is the result. `backward()`
walks this graph from the root to the leaves, applying each node's backward function, adding up
contributions with the chain rule, and storing the totals in the leaves' `.grad`.

The tutorial shows a picture of this graph for `Q`. **tape:** `tape.viz.draw_graph` draws it
for any tensor: the grey nodes are the backward functions (with PyTorch's names), the blue boxes
are the leaf tensors with their shapes, and the arrows go the way the forward pass went.
"""),
    code(DAG_FIGURE),
    md("""
The graph is rebuilt on every forward pass, so ordinary Python control flow (loops, `if`s,
changing shapes) can change it from one iteration to the next.

## Leaving tensors out of the graph

Only operations involving at least one tensor with `requires_grad=True` are recorded, and their
results require gradients in turn:
"""),
    code(SEED_000[4]),
    md("""
Parameters that do not need gradients are called *frozen*. Freezing saves work, and it is how
fine-tuning is done: keep a pretrained network fixed and train only a new classifier on top. We
load the pretrained ResNet-18 again and freeze every parameter.
"""),
    code("""
from tape import nn, optim
model = models.resnet18(pretrained=True)
# Freeze all the parameters in the network
for param in model.parameters():
    param.requires_grad = False
"""),
    md("""
For a new task with 10 classes we swap the last layer, `model.fc`, for a fresh linear layer.
New layers require gradients by default, so it is the only trainable part.
"""),
    code("model.fc = nn.Linear(512, 10)"),
    md("""
The optimizer may still be given all the parameters: the frozen ones never receive a gradient,
so only the weight and bias of `model.fc` change when it steps.
"""),
    code(OPTIMIZE_CLASSIFIER),
    md("""
The `torch.no_grad()` context manager gives the same exclusion for a block of code: nothing
computed inside it is recorded.
"""),
]

# --- 01: "Practice automatic differentiation with autograd" (seed 001) -----------------------

NB01 = [
    md("""
# Practice: automatic differentiation

Writing out the chain rule by hand for every parameter of a network would be tedious and easy
to get wrong. Autograd does it for us: it follows the operations done on tensors and computes
the derivatives when asked. This notebook runs the course page's code on tape
(`import tape as torch`).

## Tracking computations

Recording every operation on every tensor would cost a lot of memory, so nothing is tracked
unless asked. `requires_grad=True` asks for it.
"""),
    code("import tape as torch" + SEED_001[0]),
    md("""
## `grad_fn`

A tensor computed from a tracked tensor remembers the operation that produced it in its
`grad_fn` attribute: the backward function that autograd will call for it.
"""),
    code(SEED_001[1]),
    md("""
## Tracking only what is needed

`detach_()` stops tracking a tensor in place (it becomes a leaf that does not require
gradients):
"""),
    code(SEED_001[2]),
    md("Setting the flag back to `False` with `requires_grad_` has the same effect:"),
    code(SEED_001[3]),
    md("""
And a block of code can be kept out of the graph altogether:

```python
with torch.no_grad():
    <some code>
```

## Calculating gradients

Once a result (call it `loss`, the usual starting point of backpropagation) has been computed,
`loss.backward()` fills in `.grad` for the tracked leaves:

```python
loss.backward()
print(y.grad)
```

## A worked example

`real` stands for true values and `predicted` for a model's guess; only `predicted` is tracked.
"""),
    code("""
real = torch.rand(3, 8)
print(real)
predicted = torch.rand(3, 8, requires_grad=True)
print(predicted)
"""),
    md(r"The loss is the sum of squared differences, $\sum (\text{predicted} - \text{real})^2$."),
    code("loss = (predicted - real).pow(2).sum()"),
    md(r"""
### By hand

Its derivative with respect to `predicted` is $2(\text{predicted} - \text{real})$. Computing it
needs no tracking, so it goes inside `no_grad()`.
"""),
    code("""
with torch.no_grad():
    manual_gradient_predicted = 2.0 * (predicted - real)
print(manual_gradient_predicted)
"""),
    md("### With autograd"),
    code("loss.backward()"),
    code("""
auto_gradient_predicted = predicted.grad
print(auto_gradient_predicted)
"""),
    md("### Both agree"),
    code("print(manual_gradient_predicted.eq(auto_gradient_predicted).all())"),
    md("""
This first derivative was easy by hand; the ones further back through a network are not. With
autograd they all come from the same single call to `backward()`.
"""),
]

# --- 02: the blitz tutorial as an executed notebook (seed 002) -------------------------------

NB02 = [
    md("""
# The autograd blitz, as a notebook

The third seed is an executed copy of the blitz tutorial, annotated in English and Russian,
whose cells were run out of order (`In [18]`, `[19]`, `[11]`, `[12]`, `[14]`, `[20]`, ...). Here
the cells are in the order they appear, run top to bottom on tape, with only the imports
changed. Run this way, two cells fail exactly as they fail under PyTorch (see below); they are
tagged `raises-exception` so the notebook still runs to the end.
"""),
    code("%matplotlib inline"),
    md("""
## A training step with a pretrained ResNet-18

A random 3x64x64 image, random targets for the 1000 classes, and the pretrained network.
"""),
    code(RESNET_STEP),
    code("prediction = model(data) # forward pass"),
    md("ResNet-18 has a little under 11.7 million parameters:"),
    code("sum(p.numel() for p in model.parameters())"),
    md("""
Its printed structure is torchvision's: a 7x7 convolution with batch norm, ReLU and max-pool,
four stages (`layer1` to `layer4`) of two residual `BasicBlock`s each, where a `downsample`
branch matches shapes when a stage halves the resolution, then global average pooling and a
1000-way linear classifier `fc`.
"""),
    code("model"),
    md("The loss, its backward pass, an SGD optimizer with momentum, and one step:"),
    code(LOSS_BACKWARD),
    code("optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)"),
    code("optim.step() #gradient descent"),
    md("""
## Gradients of $Q = 3a^3 - b^2$
"""),
    code("import tape as torch\n" + SEED_002[0]),
    code(SEED_002[1]),
    md("""
`Q` is a vector, so `backward` is given the vector to multiply the Jacobian by. The notebook
passes integers; they are accepted and used as ones.
"""),
    code(SEED_002[2]),
    code(SEED_002[3]),
    md("""
The graph of `Q` was freed by that `backward` (to save memory, saved intermediate values are
dropped unless `retain_graph=True`). A second backward through it therefore fails, with
PyTorch's message:
"""),
    code(SEED_002[4], "raises-exception"),
    md(r"""
The notebook goes on with the tutorial's explanation: with `a`, `b` as parameters and `Q` as
the error, $\partial Q/\partial a = 9a^2$ and $\partial Q/\partial b = -2b$, and the vector
passed to `backward` stands for $dQ/dQ$. Its next cell calls `backward` on the same `Q` again,
which, run in this order, hits the freed graph as well:
"""),
    code(SEED_002[5], "raises-exception"),
    md("""
The gradients from the first, successful backward are still in place and match the formulas:
"""),
    code(SEED_002[6]),
    md(r"""
## Vector-Jacobian products

`backward(v)` computes $J^T v$ for the Jacobian $J$ of the output with respect to the inputs,
without forming $J$. With $v$ the gradient of a scalar loss with respect to the output, the
chain rule makes $J^T v$ the gradient of that loss with respect to the inputs.

## The computational graph

Every recorded operation is a node (`grad_fn`) pointing at the nodes of its inputs; leaves are
the tensors we made, the root is the result. `backward` walks from the root to the leaves,
accumulating into `.grad`. **tape:** in place of the tutorial's figure, `draw_graph` draws the
graph of `Q` (blue: leaf tensors with their shapes; arrows in the forward direction).
"""),
    code(DAG_FIGURE),
    md("""
The graph is built anew at every forward pass, which is why Python control flow may change it
freely.

## Exclusion from the graph

A result requires gradients as soon as one of its inputs does:
"""),
    code(SEED_002[12]),
    md("""
Fine-tuning freezes a pretrained network and trains a new classifier. Freeze every parameter:
"""),
    code("""
from tape import nn, optim

model = models.resnet18(pretrained=True)

# Freeze all the parameters in the network
for param in model.parameters():
    param.requires_grad = False
"""),
    md("then replace the classifier with a new, trainable 10-class layer:"),
    code("model.fc = nn.Linear(512, 10)"),
    md("""
and give everything to the optimizer; only `fc`'s weight and bias will ever get gradients and
move. `torch.no_grad()` offers the same exclusion for a block of code.
"""),
    code(OPTIMIZE_CLASSIFIER),
]

# --- 03: "Automatic Differentiation with torch.autograd" (seed 003) --------------------------

NB03 = [
    md("""
# Automatic differentiation with autograd (Learn the Basics)

Backpropagation adjusts each parameter according to the gradient of the loss with respect to
it; autograd computes those gradients for any graph of operations. This notebook runs the
*Learn the Basics* autograd page on tape (`import tape as torch`).

The smallest example: a one-layer network with input `x`, parameters `w` and `b`, and a binary
cross-entropy loss.
"""),
    code("import tape as torch\n" + SEED_003[0]),
    md("""
## Tensors, functions and the graph

`w` and `b` are what we will optimize, so they were created with `requires_grad=True` (it can
also be switched on later with `x.requires_grad_(True)`). Each operation applied to them is
recorded together with its backward function, kept in the result's `grad_fn`:
"""),
    code(SEED_003[1]),
    md("**tape:** the graph these `grad_fn`s form, drawn by `tape.viz.draw_graph`:"),
    code("""
# tape: a picture of the graph above
from tape.viz import draw_graph

draw_graph(loss, {"w": w, "b": b}, name="loss")
"""),
    md("""
## Computing gradients

`loss.backward()` computes $\\partial loss/\\partial w$ and $\\partial loss/\\partial b$ for the
fixed `x` and `y`, and stores them in `w.grad` and `b.grad`:
"""),
    code(SEED_003[2]),
    md("""
Two rules to keep in mind: `.grad` is filled in only for leaves that require gradients, and a
graph can be walked backwards once, unless `retain_graph=True` is passed to keep it.

## Turning tracking off

Evaluating a trained model needs no gradients. Inside `torch.no_grad()` nothing is recorded:
"""),
    code(SEED_003[3]),
    md("`detach()` gives the same values cut off from the graph:"),
    code(SEED_003[4]),
    md("""
This is how parameters are frozen for fine-tuning, and it makes forward-only computation
cheaper.

## The graph, more precisely

Autograd keeps the tensors and operations in a directed acyclic graph whose leaves are the
inputs and whose roots are the outputs. In the forward pass it runs each operation and records
its backward function; `backward()` then calls those functions from the root, accumulates the
results into the leaves' `.grad`, and follows the chain rule all the way down. The graph is
rebuilt at every forward pass, so control flow may change it each time.

## Jacobian products

For a tensor-valued output, `backward(v)` computes the product $v^T J$ with the Jacobian $J$,
for a `v` of the output's shape. Calling it twice adds the second result to the first: gradients
**accumulate** in `.grad`, which is why training loops zero them (optimizers do it with
`zero_grad()`).
"""),
    code(SEED_003[5]),
    md("""
A plain `backward()` on a scalar is the same as `backward(torch.tensor(1.0))`, the usual case
for a training loss.
"""),
]

# --- 04: training with the demo ---------------------------------------------------------------

NB04 = [
    md("""
# Training a digit classifier with tape

`examples/train_digits.py` is tape's training demo (the README's first command). It trains a
small CNN on the 1,797 handwritten 8x8 digits that ship with scikit-learn, so nothing is
downloaded. Here we run it from the notebook, look at its plot and checkpoint, and use the
trained model.
"""),
    code("""
import os
import sys
import tempfile

sys.path.insert(0, os.path.abspath(os.path.join("..", "examples")))
import train_digits

import tape as torch

out = tempfile.mkdtemp(prefix="tape-digits-")
"""),
    md("""
`main` takes the command-line flags as a list. Each epoch shows a progress bar and prints the
training loss and the test accuracy; the model and optimizer are saved after every epoch.
"""),
    code("""
result = train_digits.main(["--epochs", "6", "--out", out])
print(f"test accuracy: {result['accuracy']:.2%}")
"""),
    md("The loss and accuracy curves it saved:"),
    code("""
from IPython.display import Image

Image(filename=result["plot"])
"""),
    md("""
The checkpoint is an ordinary `tape.save` file (PyTorch's format): a dict with the model's and
optimizer's state dicts, the epoch and the history. `--resume` continues from it; here we run
two more epochs.
"""),
    code("""
result = train_digits.main(["--epochs", "8", "--out", out, "--resume"])
ckpt = torch.load(result["checkpoint"])
print(ckpt["epoch"], [f"{a:.3f}" for a in ckpt["history"]["acc"]])
"""),
    md("Load the weights into a fresh model and classify a few test images:"),
    code("""
import matplotlib.pyplot as plt

model = train_digits.SmallCNN()
model.load_state_dict(ckpt["model"])
model.eval()

x_train, x_test, y_train, y_test = train_digits.load_digits(seed=0)
with torch.no_grad():
    pred = model(torch.from_numpy(x_test[:10])).argmax(dim=1)

fig, axes = plt.subplots(1, 10, figsize=(10, 1.6))
for ax, image, p, t in zip(axes, x_test[:10], pred.tolist(), y_test[:10]):
    ax.imshow(image[0], cmap="gray_r")
    ax.set_title(f"{p}" if p == t else f"{p} (true {t})", fontsize=9)
    ax.axis("off")
"""),
    md("""
The backward graph of one training loss, drawn with `tape.viz.draw_graph` (parameters named
from `named_parameters()`):
"""),
    code("""
from tape import nn
from tape.viz import draw_graph

logits = model(torch.from_numpy(x_test[:4]))
loss = nn.functional.cross_entropy(logits, torch.from_numpy(y_test[:4]))
draw_graph(loss, dict(model.named_parameters()), name="loss")
"""),
]

NOTEBOOKS = {
    "00_gentle_introduction_to_autograd.ipynb": NB00,
    "01_practice_autograd.ipynb": NB01,
    "02_autograd_blitz_notebook.ipynb": NB02,
    "03_autograd_basics.ipynb": NB03,
    "04_train_digits.ipynb": NB04,
}


def build(name: str):
    nb = new_notebook(cells=NOTEBOOKS[name])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding gives the same files
        cell["id"] = f"{os.path.splitext(name)[0][:2]}-{i:02d}"
    return nb


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="write (and optionally execute) the notebooks")
    p.add_argument("--execute", action="store_true", help="run each notebook and keep outputs")
    args = p.parse_args(argv)
    for name in NOTEBOOKS:
        nb = build(name)
        if args.execute:
            from nbclient import NotebookClient

            NotebookClient(nb, timeout=600, resources={"metadata": {"path": HERE}}).execute()
        path = os.path.join(HERE, name)
        nbformat.write(nb, path)
        print(f"wrote {os.path.relpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
