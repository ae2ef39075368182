"""Multi-task loss weighting: one small class per method behind one interface, chosen by name."""
from __future__ import annotations

import inspect

from ..config import check_choice
from .base import GRAD_ON, Combination, Weighting
from .aligned_mtl import AlignedMTL
from .cagrad import CAGrad
from .conflict_free import ConFIG
from .dualproj import DualProj
from .dwa import DWA
from .equal import Equal
from .famo import FAMO
from .fixed import Fixed
from .gradnorm import GradNorm
from .imtl_g import IMTLG
from .mgda import MGDA
from .nash_mtl import NashMTL
from .pcgrad import PCGrad
from .rlw import RLW
from .uncertainty import Uncertainty
from .upgrad import UPGrad

WEIGHTINGS: dict[str, type[Weighting]] = {
    "equal": Equal, "fixed": Fixed, "uncertainty": Uncertainty, "dwa": DWA, "gradnorm": GradNorm, "rlw": RLW,
    "famo": FAMO, "pcgrad": PCGrad, "mgda": MGDA, "cagrad": CAGrad, "imtl_g": IMTLG, "nash_mtl": NashMTL,
    "upgrad": UPGrad, "dualproj": DualProj, "aligned_mtl": AlignedMTL, "config": ConFIG,
}
"""Every weighting by the name the widgets and the command line list."""


def weighting_options(name: str) -> dict[str, object]:
    """The options of weighting ``name`` with their defaults, e.g. ``{'temp': 2.0}`` for 'dwa'."""
    check_choice("weighting", name, list(WEIGHTINGS))
    parameters = list(inspect.signature(WEIGHTINGS[name].__init__).parameters.values())[2:]   # after self, tasks
    return {p.name: p.default for p in parameters if p.kind is not p.VAR_KEYWORD}   # Weighting's own **options


def make_weighting(name: str, tasks: list[str], **options) -> Weighting:
    """Build the weighting called ``name`` for ``tasks``, e.g. ``make_weighting('dwa', tasks, temp=2.0)``.

    Introduced in notebooks/04_loss_weighting.ipynb.
    """
    valid = weighting_options(name)
    for option in options:
        if not valid:
            raise ValueError(f"weighting {name!r} takes no options, got {option!r}")
        check_choice(f"{name} option", option, list(valid))
    return WEIGHTINGS[name](list(tasks), **options)


from .property_table import properties  # noqa: E402  (it reads WEIGHTINGS and make_weighting above)

__all__ = ["GRAD_ON", "WEIGHTINGS", "AlignedMTL", "CAGrad", "Combination", "ConFIG", "DWA", "DualProj", "Equal", "FAMO",
           "Fixed", "GradNorm", "IMTLG", "MGDA", "NashMTL", "PCGrad", "RLW", "UPGrad", "Uncertainty", "Weighting",
           "make_weighting", "properties", "weighting_options"]
