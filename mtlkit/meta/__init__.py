"""Meta-learning on few-shot speech tasks: episodes, the MAML family on torch.func, baselines, experiments."""
from .episodes import FAMILIES, Episode, EpisodeSampler
from .experiment import evaluate, meta_compare
from .functional import accuracy_curve, adapt, adapt_context, meta_loss
from .maml import MAML, Learner, import_learn2learn
from .methods import METHODS, Method, make_method
from .model import ENCODERS, ContextNet, MetaNet, can_vmap, update_statistics

__all__ = ["ENCODERS", "FAMILIES", "MAML", "METHODS", "ContextNet", "Episode", "EpisodeSampler", "Learner", "MetaNet",
           "Method", "accuracy_curve", "adapt", "adapt_context", "can_vmap", "evaluate", "import_learn2learn",
           "make_method", "meta_compare", "meta_loss", "update_statistics"]
