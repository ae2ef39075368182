"""Meta-learning on few-shot speech tasks: episodes, the MAML family on torch.func, baselines, experiments."""
from .episodes import FAMILIES, Episode, EpisodeSampler
from .experiment import evaluate, meta_compare
from .functional import accuracy_curve, adapt, meta_loss
from .maml import MAML, Learner, import_learn2learn
from .methods import METHODS, Method, make_method
from .model import ENCODERS, MetaNet, can_vmap, update_statistics

__all__ = ["ENCODERS", "FAMILIES", "MAML", "METHODS", "Episode", "EpisodeSampler", "Learner", "MetaNet", "Method",
           "accuracy_curve", "adapt", "can_vmap", "evaluate", "import_learn2learn", "make_method", "meta_compare",
           "meta_loss", "update_statistics"]
