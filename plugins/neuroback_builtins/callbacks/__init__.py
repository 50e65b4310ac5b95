"""Built-in callbacks: progress, early stopping, learning-rate schedules, NaN guard, CSV log,
gradient-flow diagnostics, checkpoints."""

from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .gradient_flow import GradientFlowMonitor, GradientFlowWarning
from .lr_schedule import LearningRateScheduler, ReduceLROnPlateau
from .model_checkpoint import ModelCheckpoint
from .progress import ProgressBar
from .terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger",
    "EarlyStopping",
    "GradientFlowMonitor",
    "GradientFlowWarning",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
