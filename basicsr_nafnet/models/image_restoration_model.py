"""ImageRestorationModel: BasicSR's SRModel with what GoPro deblurring training and validation need."""
import os
import os.path as osp
import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.distributed as dist
from basicsr.metrics import calculate_metric
from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger, imwrite, tensor2img
from basicsr.utils.dist_util import master_only
from basicsr.utils.registry import MODEL_REGISTRY
from torch.nn.parallel import DataParallel, DistributedDataParallel
from tqdm import tqdm

from ..fileio import atomic_save
from ..registry import register
from ..errors import RunFailed, UserError, one_line, reported_as
from ..ops.tiling import tiled_forward
from ..visualize.figures import comparison_figure
from .channels_last import to_channels_last
from .rules import SCHEDULERS, autocast_dtype, optimizer_class


class NonFiniteTrainingError(UserError, FloatingPointError):
    """Non-finite losses or gradients too many steps in a row: the recipe or the data needs a change."""


@register(MODEL_REGISTRY)
class ImageRestorationModel(SRModel):
    """BasicSR's SRModel with what GoPro deblurring training needs (the model type of the official NAFNet files).

    Added options:
        train.use_grad_clip (bool, default true), train.grad_clip_norm (default 0.01, official recipe);
        train.optim_g.type: any ``torch.optim`` optimizer (AdamW for NAFNet);
        train.scheduler.type: TrueCosineAnnealingLR / CosineAnnealingLR (``T_max``, ``eta_min``,
            optional ``warmup_iter``) besides BasicSR's own;
        train.autocast: null (default), bf16 or fp16 (fp16 with gradient scaling);
        train.channels_last (bool, default false): convolution weights and training batches in ``channels_last``
            (faster for the CPU demo network, see ``docs/speed.md``; saved weights load either way);
        train.compile (bool, default false): the training forward (and so its backward) through
            ``torch.compile``, with autocast and channels_last alike; validation and checkpoints use the
            plain network (saved keys have no ``_orig_mod.`` prefix). Falls back to eager with a warning
            where compiling fails;
        train.max_nonfinite_steps (default 5): consecutive non-finite losses before training stops;
        val.tile / val.tile_overlap (or the official ``val.grids`` with ``val.crop_size``): full-resolution
            validation in overlapping tiles; val.save_comparison: blur | restored | sharp strips.
    Works on CPU and GPU, single process or DDP (validation is split across ranks and reduced).
    """

    def __init__(self, opt):
        super().__init__(opt)
        val_opt = opt.get('val') or {}
        self.val_tile = val_opt.get('tile')
        if self.val_tile is None and val_opt.get('grids'):
            self.val_tile = val_opt.get('crop_size') or opt['datasets'].get('train', {}).get('gt_size')
        self.val_tile_overlap = val_opt.get('tile_overlap', 32)
        self._nonfinite_steps = 0

    # ---- devices and optimisation -------------------------------------------------------------
    def model_to_device(self, net):
        net = net.to(self.device)
        if self._train_channels_last():  # before DDP wraps it, so its gradient buckets match the layout
            net = to_channels_last(net)
        if self.opt['dist']:
            kwargs = dict(find_unused_parameters=self.opt.get('find_unused_parameters', False))
            if self.device.type == 'cuda':  # BasicSR passes CUDA device_ids unconditionally
                kwargs['device_ids'] = [torch.cuda.current_device()]
            net = DistributedDataParallel(net, **kwargs)
        elif self.opt['num_gpu'] > 1:
            net = DataParallel(net)
        return net

    def _train_channels_last(self):
        return bool(self.is_train and (self.opt.get('train') or {}).get('channels_last'))

    def get_bare_model(self, net):
        net = getattr(net, '_orig_mod', net)  # a torch.compile wrapper, should one ever be passed in
        return super().get_bare_model(net)

    def get_optimizer(self, optim_type, params, lr, **kwargs):
        optim_cls = optimizer_class(optim_type)
        if optim_cls is None:
            raise ValueError(f"train.optim_g.type: '{optim_type}' is not an optimizer in torch.optim")
        return optim_cls(params, lr, **kwargs)

    def setup_schedulers(self):
        # every type from the rules table, BasicSR's included (built here: BasicSR pops 'type' out of the options)
        scheduler_opt = dict(self.opt['train']['scheduler'])
        kind = scheduler_opt.pop('type')
        if kind not in SCHEDULERS:
            raise ValueError(f"train.scheduler.type: '{kind}' is not one of {', '.join(SCHEDULERS)}")
        self.schedulers = [SCHEDULERS[kind](optimizer, **scheduler_opt) for optimizer in self.optimizers]

    def init_training_settings(self):
        train_opt = self.opt['train']
        self.autocast_dtype = autocast_dtype(train_opt.get('autocast'))
        self.grad_scaler = torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)
        super().init_training_settings()
        # compiled for the training forward only: self.net_g stays the module that is saved, loaded,
        # averaged into the EMA and validated (whole frames and tiles of any size, which would recompile)
        self._compiled_net_g = torch.compile(self.net_g) if train_opt.get('compile') else None

    @property
    def compiled(self):
        """True while the training forward runs compiled (train.compile, and compiling has not failed)."""
        return getattr(self, '_compiled_net_g', None) is not None

    def _train_forward(self, x):
        if self._compiled_net_g is not None:
            try:
                return self._compiled_net_g(x)
            except Exception as err:  # e.g. inductor without a working compiler: train on, uncompiled
                message = (f'train.compile: torch.compile failed ({type(err).__name__}: '
                           f"{one_line(err, 300)}); training without compiling")
                get_root_logger().warning(message)
                warnings.warn(message)
                self._compiled_net_g = None
        return self.net_g(x)

    def optimize_parameters(self, current_iter):
        train_opt = self.opt['train']
        self.optimizer_g.zero_grad(set_to_none=True)
        if self._train_channels_last():
            self.lq = self.lq.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                            enabled=self.autocast_dtype is not None):
            self.output = self._train_forward(self.lq)
        output = self.output.float()  # losses in float32 whatever the forward ran in
        loss_dict = OrderedDict()
        l_total = 0
        if self.cri_pix:
            loss_dict['l_pix'] = self.cri_pix(output, self.gt)
            l_total = l_total + loss_dict['l_pix']
        if self.cri_perceptual:
            l_percep, l_style = self.cri_perceptual(output, self.gt)
            for name, value in (('l_percep', l_percep), ('l_style', l_style)):
                if value is not None:
                    loss_dict[name] = value
                    l_total = l_total + value

        if self._skip_if_nonfinite(l_total, current_iter, 'loss'):
            return
        self.grad_scaler.scale(l_total).backward()
        if train_opt.get('use_grad_clip', True):
            self.grad_scaler.unscale_(self.optimizer_g)
            norm = torch.nn.utils.clip_grad_norm_(self.net_g.parameters(), train_opt.get('grad_clip_norm', 0.01))
            if self._skip_if_nonfinite(norm, current_iter, 'gradient norm'):
                self.optimizer_g.zero_grad(set_to_none=True)
                self.grad_scaler.update()
                return
        self.grad_scaler.step(self.optimizer_g)
        self.grad_scaler.update()
        self._nonfinite_steps = 0
        self.log_dict = self.reduce_loss_dict(loss_dict)
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)

    def _skip_if_nonfinite(self, value, current_iter, what):
        """True (skip this step) when ``value`` is not finite on any rank; raise after too many in a row."""
        bad = torch.tensor(float(not torch.isfinite(value.detach()).all()), device=self.device)
        if self.opt['dist']:
            dist.all_reduce(bad)  # every rank must skip together, or DDP's collectives would hang
        if not bad.item():
            return False
        if self.grad_scaler.is_enabled() and what == 'gradient norm':
            return True  # fp16 overflow: GradScaler lowers its scale, a normal event
        self._nonfinite_steps += 1
        self.log_dict = OrderedDict(skipped_nonfinite=float(self._nonfinite_steps))  # what the logger prints
        limit = self.opt['train'].get('max_nonfinite_steps', 5)
        get_root_logger().warning(f'iter {current_iter}: non-finite {what}, step skipped '
                                  f'({self._nonfinite_steps} in a row, stopping at {limit})')
        if self._nonfinite_steps >= limit:
            raise NonFiniteTrainingError(
                f'training stopped at iter {current_iter}: {self._nonfinite_steps} non-finite {what}es in a row. '
                f"The last good checkpoint is in {self.opt['path'].get('models')}; lower the learning rate or "
                'check the data, then resume with --auto_resume.')
        return True

    # ---- validation ----------------------------------------------------------------------------
    def test(self):
        net = self.net_g_ema if hasattr(self, 'net_g_ema') else self.net_g
        was_training = net.training
        net.eval()
        with torch.no_grad():
            self.output = tiled_forward(self.get_bare_model(net), self.lq, self.val_tile, self.val_tile_overlap)
        net.train(was_training)

    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        if self.is_train:
            # BasicSR's loop ends one or two past total_iter and then validates the unchanged weights again
            current_iter = min(current_iter, int(self.opt['train']['total_iter']))
            key = (dataloader.dataset.opt['name'], current_iter)
            if key == getattr(self, '_last_validated', None):
                return
            self._last_validated = key
        self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def dist_validation(self, dataloader, current_iter, tb_logger, save_img):
        self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """Each rank restores every world_size-th image; metric sums are all-reduced, rank 0 logs."""
        dataset = dataloader.dataset
        dataset_name = dataset.opt['name']
        val_opt = self.opt['val']
        metrics = val_opt.get('metrics') or {}
        rank, world = self.opt.get('rank', 0), self.opt.get('world_size', 1)
        indices = range(rank, len(dataset), world)
        # on the model's device: NCCL reduces CUDA tensors only (gloo either)
        sums = torch.zeros(len(metrics) + 1, dtype=torch.float64, device=self.device)
        failure = None
        with tqdm(total=len(indices), unit='image', desc=f'val {dataset_name}',
                  disable=rank != 0 or not val_opt.get('pbar', True), leave=False) as pbar:
            # closed also on a failure, so that the error line does not share the terminal line with the bar
            try:
                self._restore_all(dataset, indices, metrics, sums, current_iter, save_img, pbar)
            except Exception as err:
                if not self.opt['dist']:
                    raise
                failure = err  # raised once every rank knows: leaving alone would hang the others in all_reduce

        if self.opt['dist']:
            failed = torch.zeros(world, dtype=torch.float64, device=self.device)
            failed[rank] = failure is not None
            dist.all_reduce(failed)
            if failure is not None:
                raise failure
            if failed.any():
                ranks = ', '.join(str(r) for r in failed.nonzero().flatten().tolist())
                raise RunFailed(f"validation of {dataset_name} failed on rank {ranks} (that rank's line says why; "
                                f'rank {rank} stopped with it)')
            dist.all_reduce(sums)
        if not metrics:
            return
        count = max(1.0, sums[-1].item())
        self.metric_results = {name: sums[i].item() / count for i, name in enumerate(metrics)}
        if not hasattr(self, 'best_metric_results'):
            self.best_metric_results = {}
        self._initialize_best_metric_results(dataset_name)
        for name, value in self.metric_results.items():
            self._update_best_metric_result(dataset_name, name, value, current_iter)
        if rank == 0:
            self._log_validation_metric_values(current_iter, dataset_name, tb_logger)

    def _restore_all(self, dataset, indices, metrics, sums, current_iter, save_img, pbar):
        """Restore the images at ``indices``; add each metric to ``sums`` (the last entry counts images)."""
        dataset_name = dataset.opt['name']
        val_opt = self.opt['val']
        for index in indices:
            data = dataset[index]
            img_name = osp.splitext(osp.basename(data['lq_path']))[0]
            self.feed_data({k: v.unsqueeze(0) for k, v in data.items() if torch.is_tensor(v)})
            self.test()
            restored = tensor2img([self.output.detach().cpu()])
            metric_data = {'img': restored}
            if hasattr(self, 'gt'):
                metric_data['img2'] = tensor2img([self.gt.detach().cpu()])
            for i, (name, metric_opt) in enumerate(metrics.items()):
                # a metric runs on real images only here: one the option check could not try fails in one line
                with reported_as(f"val.metrics.{name} ({metric_opt.get('type')}) on {img_name}",
                                 f'fix or remove val.metrics.{name}'):
                    sums[i] += float(calculate_metric(metric_data, metric_opt))
            sums[-1] += 1
            if save_img:
                imwrite(restored, self._visual_path(dataset_name, img_name, current_iter))
            if val_opt.get('save_comparison') and 'img2' in metric_data:
                blur = tensor2img([self.lq.detach().cpu()])
                # BasicSR images are BGR; the figure is drawn in RGB
                figure, _ = comparison_figure(blur[..., ::-1], metric_data['img2'][..., ::-1],
                                              [('restored', restored[..., ::-1])])
                path = osp.join(self.opt['path']['visualization'], 'comparisons', f'{img_name}_{current_iter}.png')
                imwrite(np.ascontiguousarray(figure[..., ::-1]), path)
            del self.lq, self.output
            if hasattr(self, 'gt'):
                del self.gt
            pbar.update(1)

    def _visual_path(self, dataset_name, img_name, current_iter):
        root = self.opt['path']['visualization']
        if self.opt['is_train']:
            return osp.join(root, img_name, f'{img_name}_{current_iter}.png')
        suffix = self.opt['val'].get('suffix') or self.opt['name']
        return osp.join(root, dataset_name, f'{img_name}_{suffix}.png')

    # ---- checkpoints: atomic, weights_only-loadable --------------------------------------------
    @master_only
    def save_network(self, net, net_label, current_iter, param_key='params'):
        nets = net if isinstance(net, list) else [net]
        keys = param_key if isinstance(param_key, list) else [param_key]
        save_dict = {}
        for net_, key in zip(nets, keys):
            state = self.get_bare_model(net_).state_dict()
            save_dict[key] = OrderedDict((k[7:] if k.startswith('module.') else k, v.cpu()) for k, v in state.items())
        label = 'latest' if current_iter == -1 else current_iter
        os.makedirs(self.opt['path']['models'], exist_ok=True)
        atomic_save(save_dict, osp.join(self.opt['path']['models'], f'{net_label}_{label}.pth'))

    @master_only
    def save_training_state(self, epoch, current_iter):
        if current_iter == -1:
            return
        state = {'epoch': epoch, 'iter': current_iter, 'optimizers': [o.state_dict() for o in self.optimizers],
                 'schedulers': [s.state_dict() for s in self.schedulers], 'grad_scaler': self.grad_scaler.state_dict(),
                 'torch_rng': torch.get_rng_state()}
        os.makedirs(self.opt['path']['training_states'], exist_ok=True)
        atomic_save(state, osp.join(self.opt['path']['training_states'], f'{current_iter}.state'))

    def resume_training(self, resume_state):
        super().resume_training(resume_state)
        if resume_state.get('grad_scaler'):
            self.grad_scaler.load_state_dict(resume_state['grad_scaler'])
        if resume_state.get('torch_rng') is not None:
            torch.set_rng_state(resume_state['torch_rng'])
