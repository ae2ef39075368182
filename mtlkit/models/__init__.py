"""Models: the CNN + BiLSTM encoder, task heads, and the multi-task model with its sharing strategies."""
from .encoder import Encoder
from .heads import POOLINGS, AttentiveStatsPool, FrameHead, MeanPool, UtteranceHead, reverse_gradient
from .multitask import DEFAULT_DEPTHS, FRAME_TASKS, GATES, SHARINGS, MultiTaskModel, Output, TaskGate

__all__ = ["DEFAULT_DEPTHS", "FRAME_TASKS", "GATES", "POOLINGS", "SHARINGS", "AttentiveStatsPool", "Encoder",
           "FrameHead", "MeanPool", "MultiTaskModel", "Output", "TaskGate", "UtteranceHead", "reverse_gradient"]
