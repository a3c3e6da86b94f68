"""Training losses (``torch.nn.Module``s taking ``(logits, target)``, plus functional forms).

* :class:`DiceLoss` / :func:`dice_loss` — the self-adjusting Dice loss (DSC)
  for data-imbalanced classification and tagging, and :func:`soft_f1`
  (Li et al., "Dice Loss for Data-imbalanced NLP Tasks", ACL 2020,
  arXiv:1911.02855).
* :class:`TverskyLoss` / :func:`tversky_loss` — the Tversky-index variant that
  weights false positives and false negatives differently (same paper).
"""

from diversa.nn.losses.dice import DiceLoss, dice_loss, soft_f1
from diversa.nn.losses.tversky import TverskyLoss, tversky_loss

__all__ = ["DiceLoss", "TverskyLoss", "dice_loss", "soft_f1", "tversky_loss"]
