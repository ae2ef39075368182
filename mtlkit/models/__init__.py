"""Models: the CNN + BiLSTM encoder, task heads, and the multi-task model with its sharing strategies."""
from .encoder import Encoder
from .experts import Expert, ExpertGate, ExtractionLevel, mix
from .heads import POOLINGS, AttentiveStatsPool, FrameHead, MeanPool, UtteranceHead, reverse_gradient
from .multitask import (DEFAULT_DEPTHS, FRAME_TASKS, GATES, PER_TASK_LAYERS, SHARINGS, MultiTaskModel, Output,
                        TaskAttention, TaskGate)

__all__ = ["DEFAULT_DEPTHS", "FRAME_TASKS", "GATES", "PER_TASK_LAYERS", "POOLINGS", "SHARINGS", "AttentiveStatsPool",
           "Encoder", "Expert", "ExpertGate", "ExtractionLevel", "FrameHead", "MeanPool", "MultiTaskModel", "Output",
           "TaskAttention", "TaskGate", "UtteranceHead", "mix", "reverse_gradient"]
