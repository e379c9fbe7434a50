"""Capturing a call in a CUDA graph at fixed shapes: inference per input shape, and a whole training step.

Both follow PyTorch's whole-network recipe: warm-up calls on a side stream (lazy state such as the
optimizer's is made there, outside the graph), then one capture; a call copies its input into the static
buffers and replays. Off CUDA (a dry run on the CPU) they run the plain callable and say so (``captured``).
"""
import contextlib

import torch

__all__ = ['ShapeGraphs', 'WholeStep']


def _capture(fn, warmup):
    """``(graph, output)``: ``fn()`` after ``warmup`` calls on a side stream (PyTorch's whole-network recipe)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


class ShapeGraphs:
    """Calls ``fn`` through one CUDA graph per input shape, captured at the first call of that shape.

    Not on CUDA (a dry run) it calls ``fn`` itself; ``captured`` says which.
    """

    def __init__(self, fn, warmup=3):
        self.fn, self.warmup, self.graphs = fn, warmup, {}
        self.captured = False

    def __call__(self, x):
        if x.device.type != 'cuda':
            return self.fn(x)
        key = (tuple(x.shape), x.dtype)
        if key not in self.graphs:
            static = x.clone()
            self.graphs[key] = (static, *_capture(lambda: self.fn(static), self.warmup))
            self.captured = True
        static, graph, out = self.graphs[key]
        static.copy_(x)
        graph.replay()
        return out.clone()  # the next replay overwrites ``out``


class WholeStep:
    """One training step of ``model``'s network as one call: forward, loss, backward, clipping, fused AdamW.

    The optimizer is AdamW with the recipe's hyper-parameters, ``fused=True, capturable=True``; the learning
    rate stays fixed (no scheduler inside the timed steps, as in the reference's timing). :meth:`capture`
    makes the warm-up steps (real steps on the batches given) and records the step in a CUDA graph
    (on CUDA); :meth:`__call__` copies a batch into the static buffers and runs or replays the step.
    """

    def __init__(self, model, recipe, batch_shape, device, autocast_dtype=None):
        self.net = model.get_bare_model(model.net_g)
        self.loss_fn = model.cri_pix
        opt = dict(recipe['optim_g'])
        opt.pop('type')
        self.optimizer = torch.optim.AdamW(self.net.parameters(), **opt, fused=True, capturable=True)
        self.clip = recipe.get('grad_clip_norm', 0.01) if recipe.get('use_grad_clip', True) else None
        self.autocast_dtype = autocast_dtype
        self.lq = torch.zeros(batch_shape, device=device)
        self.gt = torch.zeros(batch_shape, device=device)
        self.graph = None
        self.loss = None

    def _step(self):
        # cache off: cached autocast casts would outlive the capture (PyTorch's CUDA-graph notes)
        autocast = torch.autocast(self.lq.device.type, dtype=self.autocast_dtype, cache_enabled=False) \
            if self.autocast_dtype else contextlib.nullcontext()
        with autocast:
            out = self.net(self.lq)
        loss = self.loss_fn(out.float(), self.gt)
        loss.backward()
        if self.clip is not None:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip, foreach=True)
        self.optimizer.step()
        return loss.detach()

    def _eager(self):
        self.optimizer.zero_grad(set_to_none=True)
        return self._step()

    def _feed(self, batch):
        self.lq.copy_(batch[0])
        self.gt.copy_(batch[1])

    def capture(self, warmup_batches):
        """Warm up on ``warmup_batches`` ((lq, gt) pairs, real steps) and capture; returns their losses."""
        losses = []
        if self.lq.device.type != 'cuda':
            for batch in warmup_batches:
                self._feed(batch)
                losses.append(float(self._eager()))
            return losses
        iterator = iter(warmup_batches)

        def warm():
            self._feed(next(iterator))
            losses.append(self._eager())

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in warmup_batches:
                warm()
        torch.cuda.current_stream().wait_stream(side)
        self.optimizer.zero_grad(set_to_none=True)  # gradients then live in the graph's pool, rewritten per replay
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = self._step()
        return [float(v) for v in losses]

    @property
    def captured(self):
        return self.graph is not None

    def __call__(self, batch=None):
        """One step (on ``batch`` when given, else on what the buffers hold); returns the loss tensor."""
        if batch is not None:
            self._feed(batch)
        if self.graph is None:
            return self._eager()
        self.graph.replay()
        return self.loss
