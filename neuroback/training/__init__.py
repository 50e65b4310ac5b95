"""Training: the Trainer, its History, and how data becomes batches."""

from .data import ArrayLoader, BatchIterable
from .history import History
from .trainer import NonFiniteLossWarning, NonFiniteUpdateWarning, StepResult, Trainer

__all__ = [
    "ArrayLoader",
    "BatchIterable",
    "History",
    "NonFiniteLossWarning",
    "NonFiniteUpdateWarning",
    "StepResult",
    "Trainer",
]
