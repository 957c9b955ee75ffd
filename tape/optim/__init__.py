"""``tape.optim``: torch.optim's optimizers and schedulers, each update one jitted optax call."""

from tape.optim import lr_scheduler
from tape.optim.adagrad import Adagrad
from tape.optim.adam import Adam
from tape.optim.adamw import AdamW
from tape.optim.optimizer import Optimizer
from tape.optim.rmsprop import RMSprop
from tape.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
