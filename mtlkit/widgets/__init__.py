"""Widget panels of the notebooks (core ipywidgets only: works on ipywidgets 7.7 as in Colab, and on 8)."""
from .adaptation import AdaptationPanel
from .baselines import BaselinePanel
from .embedding import EmbeddingPanel
from .gating import GatingPanel
from .panel import Panel, html_table, render
from .playground import PlaygroundPanel
from .sharing import SharingPanel
from .task_embedding import TaskEmbeddingPanel
from .weighting import WeightingPanel

__all__ = ["AdaptationPanel", "BaselinePanel", "EmbeddingPanel", "GatingPanel", "Panel", "PlaygroundPanel",
           "SharingPanel", "TaskEmbeddingPanel", "WeightingPanel", "html_table", "render"]
