"""Checks of the run around the network: name, model type, seed, GPUs, logger, launcher, and the ``val`` section."""
import importlib.util
import inspect
from ...errors import UserError
from ...fileio import check_component
from .values import check_bool, check_int, check_number, registered, section

__all__ = ['check_top_level', 'check_val']


def check_top_level(problems, opt):
    from basicsr.utils.registry import MODEL_REGISTRY

    try:
        check_component(opt.get('name'), 'name')
    except UserError as err:
        problems.append(str(err))
    if registered(problems, MODEL_REGISTRY, opt.get('model_type'), 'model_type', 'model'):
        _check_paired_model(problems, MODEL_REGISTRY.get(opt['model_type']), opt['model_type'])
    check_int(problems, opt, 'scale', 'scale', low=1)
    check_int(problems, opt, 'manual_seed', 'manual_seed', low=0, high=2 ** 32 - 1)  # numpy's seed range
    num_gpu = opt.get('num_gpu', 'auto')
    if num_gpu != 'auto':
        check_int(problems, opt, 'num_gpu', 'num_gpu', low=0)
    logger = section(problems, opt, 'logger', 'logger') or {}
    check_int(problems, logger, 'print_freq', 'logger.print_freq', low=1)
    check_int(problems, logger, 'save_checkpoint_freq', 'logger.save_checkpoint_freq', low=1)
    check_bool(problems, logger, 'use_tb_logger', 'logger.use_tb_logger')
    _check_wandb(problems, logger)
    dist_params = section(problems, opt, 'dist_params', 'dist_params') or {}
    if dist_params.get('backend') not in (None, 'nccl', 'gloo'):
        problems.add('dist_params.backend', f"expected nccl or gloo, got {dist_params['backend']!r}")


def _check_paired_model(problems, cls, name):
    """BasicSR's own models: the image ones (SRModel and its kind) read pairs; the video ones need frame sequences."""
    if not cls.__module__.startswith('basicsr.'):
        return  # ours, or another plugin's
    from basicsr.models.sr_model import SRModel
    from basicsr.models.video_base_model import VideoBaseModel
    if not issubclass(cls, SRModel) or issubclass(cls, VideoBaseModel):
        problems.add('model_type', f'{name} is a BasicSR model for other data than image pairs; '
                     'use ImageRestorationModel')


def _check_wandb(problems, logger):
    """BasicSR syncs wandb from TensorBoard (it asserts use_tb_logger) and imports wandb only when the run starts."""
    wandb = logger.get('wandb')
    if wandb is None:
        return
    if not isinstance(wandb, dict):
        problems.add('logger.wandb', f'expected a mapping with a project, got {wandb!r}')
        return
    if wandb.get('project') is None:
        return  # BasicSR skips wandb without a project
    if not isinstance(wandb['project'], str):
        problems.add('logger.wandb.project', f"expected a name, got {wandb['project']!r}")
    if logger.get('use_tb_logger') is not True:
        problems.add('logger.wandb.project', 'wandb logs through TensorBoard here: set logger.use_tb_logger: true')
    if importlib.util.find_spec('wandb') is None:
        problems.add('logger.wandb.project', 'needs the wandb package, which is not installed (pip install wandb), '
                     'or remove logger.wandb')


def check_val(problems, opt, is_train):
    from basicsr.utils.registry import METRIC_REGISTRY

    val = section(problems, opt, 'val', 'val', required=not is_train)
    if val is None:
        return
    if is_train:
        check_number(problems, val, 'val_freq', 'val.val_freq', low=1, required=True)
    check_bool(problems, val, 'save_img', 'val.save_img')
    check_bool(problems, val, 'save_comparison', 'val.save_comparison')
    check_int(problems, val, 'tile', 'val.tile', low=8)
    check_int(problems, val, 'tile_overlap', 'val.tile_overlap', low=0)
    check_int(problems, val, 'crop_size', 'val.crop_size', low=8)
    if val.get('suffix') is not None:
        try:
            check_component(str(val['suffix']), 'val.suffix')
        except UserError as err:
            problems.append(str(err))
    metrics = val.get('metrics') or {}
    if not isinstance(metrics, dict):
        problems.add('val.metrics', f'expected a mapping of metric names to options, got {metrics!r}')
        return
    for name, metric in metrics.items():
        if not isinstance(metric, dict):
            problems.add(f'val.metrics.{name}', f'expected a mapping with a type, got {metric!r}')
        elif registered(problems, METRIC_REGISTRY, metric.get('type'), f'val.metrics.{name}.type', 'metric'):
            _check_metric(problems, METRIC_REGISTRY.get(metric['type']), metric, f'val.metrics.{name}')


def _check_metric(problems, function, metric, where):
    """Validation compares each output with its ground truth: full-reference metrics, an integer crop_border."""
    parameters = inspect.signature(function).parameters
    if 'img2' not in parameters:
        problems.add(f'{where}.type', f"{metric['type']} is a no-reference metric; validation here compares with the "
                     'ground truth (calculate_psnr, calculate_ssim, calculate_ssim_3d)')
        return
    if 'crop_border' in parameters:
        check_int(problems, metric, 'crop_border', f'{where}.crop_border', low=0, required=True, exact=True)
    check_bool(problems, metric, 'test_y_channel', f'{where}.test_y_channel')
    unknown = sorted(set(metric) - set(parameters) - {'type', 'better'})
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        problems.add(f'{where}.{unknown[0]}', f"{metric['type']} takes no argument {unknown[0]!r}")
