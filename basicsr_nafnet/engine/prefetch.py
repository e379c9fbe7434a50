"""BasicSR's ``prefetch_mode: cpu`` loader, with the failure of its thread reaching the training loop.

BasicSR's PrefetchGenerator reads batches in a thread into a queue; when reading fails (a file that does not decode,
``num_prefetch_queue`` that is not a number) the thread dies and the training loop waits on the queue forever: 6 of 9
such runs hung (issue 24). Here the thread hands its exception over the queue and the loop raises it.
"""
import queue
import threading

__all__ = ['PrefetchLoader']

_END = object()


class _Failed:
    def __init__(self, error):
        self.error = error


class _PrefetchIterator(threading.Thread):
    """Batches of ``iterator`` read ahead in a daemon thread; an error there is raised by ``__next__``."""

    def __init__(self, iterator, queue_size):
        super().__init__(daemon=True)  # a loop that stops early must not keep the process alive
        self.queue = queue.Queue(queue_size)
        self.iterator = iterator
        self.start()

    def run(self):
        try:
            for item in self.iterator:
                self.queue.put(item)
            self.queue.put(_END)
        except BaseException as err:  # whatever ends the thread must reach the consumer, or it waits forever
            self.queue.put(_Failed(err))

    def __next__(self):
        item = self.queue.get()
        if item is _END:
            raise StopIteration
        if isinstance(item, _Failed):
            raise item.error
        return item

    def __iter__(self):
        return self


class PrefetchLoader:
    """``loader`` (a DataLoader) read ahead by ``queue_size`` batches in a thread, as BasicSR's PrefetchDataLoader;
    everything else (``len``, ``sampler``, ``dataset``) is the loader's.

    Args:
        loader (torch.utils.data.DataLoader): The plain loader.
        queue_size (int): Batches read ahead (BasicSR's ``num_prefetch_queue``), at least 1.
    """

    def __init__(self, loader, queue_size):
        self.loader = loader
        self.queue_size = queue_size

    def __iter__(self):
        return _PrefetchIterator(iter(self.loader), self.queue_size)

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):
        return getattr(self.__dict__['loader'], name)
