"""The logger back-ends of a training run (TensorBoard, wandb), whose failures mid-run end in one line.

The option checks make sure that a back-end the options ask for is installed; starting it (wandb's login, the
TensorBoard event file) and writing to it happen only once the run has started, inside BasicSR's loop. Here those
calls are wrapped so that a failure names the ``logger`` key to change (:func:`~basicsr_nafnet.errors.reported_as`)
instead of ending in a traceback; the pipeline adds how to go on.
"""
from ..errors import reported_as

__all__ = ['GuardedWriter', 'start_tb_logger', 'start_wandb_logger']

_TB = 'logger.use_tb_logger (TensorBoard)'
_TB_FIX = 'set logger.use_tb_logger: false, or fix what the error names'
_WANDB = 'logger.wandb (wandb)'
_WANDB_FIX = 'set wandb up (`wandb login`, or WANDB_MODE=offline), or remove logger.wandb.project'


class GuardedWriter:
    """A TensorBoard ``SummaryWriter`` whose method calls fail as one line naming ``logger.use_tb_logger``.

    Args:
        writer: The writer BasicSR's ``init_tb_logger`` made.
    """

    def __init__(self, writer):
        self._writer = writer

    def __getattr__(self, name):
        attr = getattr(self.__dict__['_writer'], name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with reported_as(f'{_TB}: {name}', _TB_FIX):
                return attr(*args, **kwargs)

        return call


def start_tb_logger(log_dir):
    """BasicSR's ``init_tb_logger``, its failures and those of the writer it returns as one line."""
    from basicsr.utils import logger

    with reported_as(f'{_TB}: starting the writer in {log_dir}', _TB_FIX):
        return GuardedWriter(logger.init_tb_logger(log_dir=log_dir))


def start_wandb_logger(opt):
    """BasicSR's ``init_wandb_logger``, its failure (no login, no network) as one line."""
    from basicsr.utils import logger

    with reported_as(f"{_WANDB}: starting run {opt['name']!r} of project "
                     f"{opt['logger']['wandb'].get('project')!r}", _WANDB_FIX):
        return logger.init_wandb_logger(opt)
