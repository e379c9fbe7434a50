"""Learning-rate schedules BasicSR 1.4.2 lacks."""
import math

from torch.optim.lr_scheduler import LRScheduler

__all__ = ['WarmupCosineLR']


class WarmupCosineLR(LRScheduler):
    """Optional linear warm-up, then cosine annealing from the base lr to ``eta_min`` at ``T_max``.

    Closed form (no recursive update, so resuming reproduces it exactly). Official NAFNet calls the
    warm-up-free case ``TrueCosineAnnealingLR``.

    Args:
        optimizer (Optimizer): Wrapped optimizer.
        T_max (int): Iteration at which the lr reaches ``eta_min`` (and stays).
        eta_min (float): Final learning rate. Default: 0.
        warmup_iter (int): Iterations of linear warm-up from lr/warmup_iter to lr. Default: 0.
    """

    def __init__(self, optimizer, T_max, eta_min=0., warmup_iter=0, last_epoch=-1):
        self.T_max, self.eta_min, self.warmup_iter = int(T_max), float(eta_min), max(0, int(warmup_iter))
        if self.T_max <= self.warmup_iter:
            raise ValueError(f'scheduler: T_max ({self.T_max}) must exceed warmup_iter ({self.warmup_iter})')
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        step = self.last_epoch
        if step < self.warmup_iter:
            return [base * (step + 1) / self.warmup_iter for base in self.base_lrs]
        progress = min(step - self.warmup_iter, self.T_max - self.warmup_iter) / (self.T_max - self.warmup_iter)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]
