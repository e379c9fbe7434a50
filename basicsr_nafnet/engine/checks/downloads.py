"""No network while checking options: a loss that would download weights (BasicSR's PerceptualLoss fetches VGG19
through torchvision) is stopped at the download and named, with the file it wanted and where to put it."""
import contextlib
import io
import os
import sys

__all__ = ['DownloadRefused', 'refuse_downloads']


class DownloadRefused(Exception):
    """What was about to be downloaded: ``url`` into ``path``."""

    def __init__(self, url, path):
        super().__init__(f'{url} -> {path}')
        self.url, self.path = url, path

    def advice(self):
        """One sentence: which file is missing and how to get it."""
        return (f'needs weights that are not on this machine ({os.path.basename(self.path)}); nothing is downloaded '
                f'while checking options: download {self.url} by hand to {self.path} (or set TORCH_HOME to the '
                'folder that holds hub/checkpoints/ with it), then run again')


@contextlib.contextmanager
def refuse_downloads():
    """Within the block, ``torch.hub`` (which torchvision's pretrained weights go through) raises
    :class:`DownloadRefused` instead of downloading; weights already in the cache load as usual. torch.hub announces
    a download on stdout before starting it: that line is dropped when the download is refused."""
    import torch.hub

    original = torch.hub.download_url_to_file

    def refuse(url, dst, *args, **kwargs):
        raise DownloadRefused(url, dst)

    torch.hub.download_url_to_file = refuse  # looked up at call time by torch.hub.load_state_dict_from_url
    # torch.hub makes <hub>/checkpoints before it looks for the file: folders it made for nothing are removed after
    made = _missing_folders(os.path.join(torch.hub.get_dir(), 'checkpoints'))
    out, err = io.StringIO(), io.StringIO()
    refused = False
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    except DownloadRefused:
        refused = True
        raise
    finally:
        torch.hub.download_url_to_file = original
        for folder in made:  # deepest first; a folder that holds something now stays
            try:
                os.rmdir(folder)
            except OSError:
                break
        if not refused:  # warnings and notes of a build that needed nothing from the network
            sys.stdout.write(out.getvalue())
            sys.stderr.write(err.getvalue())


def _missing_folders(path):
    """``path`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    return missing
