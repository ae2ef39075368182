"""Widget panels of the notebooks (core ipywidgets only: works on ipywidgets 7.7 as in Colab, and on 8)."""
from .baselines import BaselinePanel
from .embedding import EmbeddingPanel
from .gating import GatingPanel
from .panel import Panel, html_table, render
from .sharing import SharingPanel
from .weighting import WeightingPanel

__all__ = ["BaselinePanel", "EmbeddingPanel", "GatingPanel", "Panel", "SharingPanel", "WeightingPanel",
           "html_table", "render"]
