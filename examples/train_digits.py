"""Train a classifier on scikit-learn's handwritten digits with tape, PyTorch-style.

    python examples/train_digits.py                      # small CNN, ~98% test accuracy
    python examples/train_digits.py --model resnet18     # models.resnet18 (its Flax body)
    python examples/train_digits.py --epochs 20 --resume # continue from the checkpoint

The data set is the 1,797 8x8 grey-scale digits that ship inside scikit-learn (nothing is
downloaded). A stratified 80/20 split gives 1,437 training and 360 test images. Each epoch
shows a tqdm progress bar and prints the training loss and the test accuracy. At the end
``<out>/digits_<model>.png`` plots loss and accuracy per epoch and ``<out>/digits_<model>.pth``
holds the checkpoint (model, optimizer, epoch, history), written atomically by ``tape.save``
after every epoch. ``--resume`` continues from that checkpoint up to ``--epochs``.

The code is the code one would write for PyTorch, with ``import tape as torch``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

import tape as torch
from tape import nn, optim

DEFAULT_EPOCHS = {"cnn": 10, "resnet18": 5}
DEFAULT_LR = {"cnn": 2e-3, "resnet18": 1e-3}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["cnn", "resnet18"], default="cnn")
    p.add_argument("--epochs", type=int, default=None, help="default: 10 (cnn), 5 (resnet18)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0, ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="directory for the plot and the checkpoint")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the tqdm progress bar")
    p.add_argument("--compile", action="store_true", help="run each train step as one XLA program")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS[args.model]
    if args.lr is None:
        args.lr = DEFAULT_LR[args.model]
    return args


# --- data -------------------------------------------------------------------------------------


def load_digits(seed: int = 0):
    """The digits as float32 NCHW arrays scaled to [0, 1], split 80/20 stratified by ``seed``."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    x, y = sk_load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator):
    """Shuffled full batches (the last partial one is dropped, so every step has one shape)."""
    order = rng.permutation(len(x))
    for i in range(len(x) // batch_size):
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield torch.from_numpy(x[idx]), torch.from_numpy(y[idx])


# --- models -----------------------------------------------------------------------------------


class SmallCNN(nn.Module):
    """Two 3x3 convolutions, a 2x2 max-pool and two linear layers: 8x8 -> 10 classes."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 128),
            nn.ReLU(),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class ResNetDigits(nn.Module):
    """models.resnet18 (num_classes=10) on the digits: 8x8 grey -> 16x16, 3 channels."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        import models

        self.resnet = models.resnet18(num_classes=num_classes)

    def forward(self, x):
        x = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        return self.resnet(x.expand(-1, 3, -1, -1))


def build_model(name: str) -> nn.Module:
    return SmallCNN() if name == "cnn" else ResNetDigits()


# --- training ---------------------------------------------------------------------------------


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, device) -> float:
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x).to(device))
        pred = logits.argmax(dim=1).cpu().numpy()
    model.train()
    return float((pred == y).mean())


def save_plot(history: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, history["loss"], "o-")
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss")
    ax2.plot(epochs, [100 * a for a in history["acc"]], "o-", color="tab:green")
    ax2.set(xlabel="epoch", ylabel="test accuracy (%)", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from tqdm import tqdm

    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, f"digits_{args.model}.pth")
    plot_path = os.path.join(args.out, f"digits_{args.model}.png")
    device = torch.device(args.device)

    torch.manual_seed(args.seed)
    x_train, x_test, y_train, y_test = load_digits(args.seed)
    model = build_model(args.model).to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    history = {"loss": [], "acc": []}
    start_epoch = 0

    if args.resume:
        if not os.path.exists(ckpt_path):
            sys.exit(f"--resume: no checkpoint at {ckpt_path}")
        ckpt = torch.load(ckpt_path)
        if ckpt["model_name"] != args.model:
            sys.exit(f"--resume: {ckpt_path} holds a {ckpt['model_name']!r} model")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scheduler.T_max = args.epochs  # a longer run stretches the cosine to its new end
        history = {"loss": list(ckpt["history"]["loss"]), "acc": list(ckpt["history"]["acc"])}
        start_epoch = ckpt["epoch"]
        print(f"resumed from {ckpt_path} at epoch {start_epoch}")

    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"digits: {len(x_train)} train / {len(x_test)} test images; model {args.model} "
        f"({n_params:,} parameters) on {device}; batch {args.batch_size}, "
        f"Adam lr {args.lr} with a cosine schedule"
    )

    def train_step(xb, yb):
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    if args.compile:
        train_step = torch.compile(train_step)
    steps = len(x_train) // args.batch_size
    t0 = time.perf_counter()
    for epoch in range(start_epoch, args.epochs):
        # One generator per epoch, derived from the seed: a resumed run shuffles as a full one.
        rng = np.random.default_rng([args.seed, epoch])
        model.train()
        total, bar = 0.0, None
        it = batches(x_train, y_train, args.batch_size, rng)
        if not args.no_progress:
            it = bar = tqdm(it, total=steps, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False)
        for xb, yb in it:
            xb, yb = xb.to(device), yb.to(device)
            value = train_step(xb, yb).item()
            total += value
            if bar is not None:
                bar.set_postfix(loss=f"{value:.4f}")
        if bar is not None:
            bar.close()
        scheduler.step()
        mean_loss = total / steps
        acc = evaluate(model, x_test, y_test, device)
        if not math.isfinite(mean_loss):
            sys.exit(f"epoch {epoch + 1}: loss is {mean_loss}; try a smaller --lr")
        history["loss"].append(mean_loss)
        history["acc"].append(acc)
        print(f"epoch {epoch + 1:3d}/{args.epochs}  loss {mean_loss:.4f}  test acc {acc:.2%}")
        torch.save(
            {
                "model_name": args.model,
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": history,
                "args": {k: v for k, v in vars(args).items() if k != "resume"},
            },
            ckpt_path,
        )
    elapsed = time.perf_counter() - t0

    if history["acc"]:
        save_plot(history, plot_path, f"tape: {args.model} on scikit-learn digits")
        print(
            f"final test accuracy {history['acc'][-1]:.2%} after {len(history['acc'])} epochs "
            f"({elapsed:.1f} s this run)"
        )
        print(f"saved {plot_path} and {ckpt_path}")
    return {
        "accuracy": history["acc"][-1] if history["acc"] else None,
        "history": history,
        "seconds": elapsed,
        "checkpoint": ckpt_path,
        "plot": plot_path,
    }


if __name__ == "__main__":
    main()
