"""Checks of the ``train`` section: iterations, and for our model its optimizer, scheduler, losses and autocast.

What the model accepts is the model's rule (:mod:`basicsr_nafnet.models.rules`); these checks only read it.
Optimizers, schedulers and losses are built on a one-element stand-in, so their own argument checks run.
"""
import torch

from ...errors import one_line
from ...models import rules
from .downloads import DownloadRefused, refuse_downloads
from .values import check_bool, check_int, check_number, registered, section, try_build

__all__ = ['check_train']

MAX_ITERATIONS = 10 ** 9  # far beyond any schedule; larger values overflow C ints in the loggers and samplers


def check_train(problems, opt):
    from basicsr.utils.registry import LOSS_REGISTRY

    train = section(problems, opt, 'train', 'train', required=True)
    if train is None:
        return
    check_int(problems, train, 'total_iter', 'train.total_iter', low=1, high=MAX_ITERATIONS, required=True)
    logger = opt.get('logger') if isinstance(opt.get('logger'), dict) else {}
    for key in ('print_freq', 'save_checkpoint_freq'):  # training reads both at every iteration
        if key in logger and logger[key] is None:
            problems.add(f'logger.{key}', 'expected an integer, got None')
    check_int(problems, train, 'warmup_iter', 'train.warmup_iter', low=-1)
    check_number(problems, train, 'ema_decay', 'train.ema_decay', low=0, high=0.999999999)
    if opt.get('model_type') != rules.MODEL_TYPE:
        _check_basicsr_model(problems, opt, train)
        return  # another plugin's model reads its own keys
    check_bool(problems, train, 'use_grad_clip', 'train.use_grad_clip')
    check_number(problems, train, 'grad_clip_norm', 'train.grad_clip_norm', low=0, null=False)
    check_bool(problems, train, 'channels_last', 'train.channels_last')
    check_bool(problems, train, 'compile', 'train.compile')
    check_int(problems, train, 'max_nonfinite_steps', 'train.max_nonfinite_steps', low=1)
    if train.get('autocast') not in rules.AUTOCAST_MODES:
        problems.add('train.autocast', f"expected null, bf16 or fp16, got {train['autocast']!r}")
    # the device training will use: some options (capturable) hold on a GPU only
    device = 'cuda' if opt.get('num_gpu') and torch.cuda.is_available() else 'cpu'
    optimizer = _check_optimizer(problems, train, device)
    if optimizer is not None:
        _check_scheduler(problems, train, optimizer)
    losses = [k for k in ('pixel_opt', 'perceptual_opt') if train.get(k) is not None]
    if not losses:
        problems.add('train.pixel_opt', 'missing: training needs a loss (e.g. type: PSNRLoss)')
    for key in losses:
        loss = train[key]
        if not isinstance(loss, dict):
            problems.add(f'train.{key}', f'expected a mapping with a type, got {loss!r}')
        elif registered(problems, LOSS_REGISTRY, loss.get('type'), f'train.{key}.type', 'loss'):
            if key == 'pixel_opt':
                check_number(problems, loss, 'loss_weight', f'train.{key}.loss_weight', low=0, null=False)
            _check_loss_builds(problems, f'train.{key}', LOSS_REGISTRY.get(loss['type']), loss)


def _check_loss_builds(problems, where, cls, loss):
    """Build the loss as the model will, without network: weights it would download are named instead."""
    kwargs = {k: v for k, v in loss.items() if k != 'type'}
    try:
        with refuse_downloads():
            cls(**kwargs)
    except DownloadRefused as missing:
        problems.add(where, f"{loss['type']} {missing.advice()}")
    except Exception as err:  # the constructor's own checks of its arguments
        problems.add(where, f"{type(err).__name__}: {one_line(err)}")


def _check_optimizer(problems, train, device):
    """The optimizer built on a stand-in parameter, or None with the problem recorded."""
    optim = section(problems, train, 'optim_g', 'train.optim_g', required=True)
    if optim is None:
        return None
    cls = rules.optimizer_class(optim.get('type'))
    if cls is None:
        problems.add('train.optim_g.type', f"{optim.get('type')!r} is not an optimizer in torch.optim")
        return None
    before = len(problems)
    check_number(problems, optim, 'lr', 'train.optim_g.lr', low=0, required=True)
    if len(problems) > before:
        return None
    stand_in = torch.zeros(1, requires_grad=True, device=device)
    optimizer = try_build(problems, 'train.optim_g',
                          lambda: cls([stand_in], **{k: v for k, v in optim.items() if k != 'type'}))
    if optimizer is not None:  # some refuse only when they step: LBFGS (a closure), SparseAdam, capturable on a CPU
        stand_in.grad = torch.zeros(1, device=device)
        if try_build(problems, 'train.optim_g', lambda: optimizer.step() or True) is None:
            return None
        optimizer.zero_grad()
    return optimizer


def _check_scheduler(problems, train, optimizer):
    scheduler = section(problems, train, 'scheduler', 'train.scheduler', required=True)
    if scheduler is None:
        return
    kind = scheduler.get('type')
    if not isinstance(kind, str) or kind not in rules.SCHEDULERS:
        problems.add('train.scheduler.type', f"{kind!r} is not one of {', '.join(rules.SCHEDULERS)}")
        return
    try_build(problems, 'train.scheduler',
              lambda: rules.SCHEDULERS[kind](optimizer, **{k: v for k, v in scheduler.items() if k != 'type'}))


# BasicSR's own models build these only (basicsr/models/base_model.py, 1.4.2)
BASICSR_OPTIMIZERS = ('Adam',)
BASICSR_SCHEDULERS = ('MultiStepLR', 'MultiStepRestartLR', 'CosineAnnealingRestartLR')


def _check_basicsr_model(problems, opt, train):
    """A model of BasicSR itself (SRModel, ...): it knows one optimizer and three schedulers."""
    from basicsr.utils.registry import MODEL_REGISTRY

    model_type = opt.get('model_type')
    if not isinstance(model_type, str) or model_type not in MODEL_REGISTRY:
        return  # check_top_level names it
    if not MODEL_REGISTRY.get(model_type).__module__.startswith('basicsr.'):
        return
    optim = train.get('optim_g')
    if isinstance(optim, dict) and optim.get('type') not in BASICSR_OPTIMIZERS:
        problems.add('train.optim_g.type', f"BasicSR's {model_type} builds only {', '.join(BASICSR_OPTIMIZERS)}, "
                     f"got {optim.get('type')!r} (model_type: {rules.MODEL_TYPE} builds any torch.optim optimizer)")
    scheduler = train.get('scheduler')
    if isinstance(scheduler, dict) and scheduler.get('type') not in BASICSR_SCHEDULERS:
        problems.add('train.scheduler.type', f"BasicSR's {model_type} builds only {', '.join(BASICSR_SCHEDULERS)}, "
                     f"got {scheduler.get('type')!r}")
