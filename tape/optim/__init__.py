"""``tape.optim``: torch.optim's optimizers and schedulers, each update one jitted optax call."""

from tape.optim import lr_scheduler, swa_utils
from tape.optim.adadelta import Adadelta
from tape.optim.adagrad import Adagrad
from tape.optim.adam import Adam
from tape.optim.adamax import Adamax
from tape.optim.adamw import AdamW
from tape.optim.asgd import ASGD
from tape.optim.lbfgs import LBFGS
from tape.optim.nadam import NAdam
from tape.optim.optimizer import Optimizer
from tape.optim.radam import RAdam
from tape.optim.rmsprop import RMSprop
from tape.optim.rprop import Rprop
from tape.optim.sgd import SGD

__all__ = [
    "ASGD",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "lr_scheduler",
    "swa_utils",
]
