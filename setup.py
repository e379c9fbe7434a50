#!/usr/bin/env python
"""Install with ``pip install -e .[test]`` after installing torch (see scripts/test.sh); ``.[deploy]`` adds ONNX export
and the ONNX Runtime / OpenVINO execution paths."""
import glob
import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = ['onnx', 'onnxscript', 'onnxruntime', 'openvino']


def read_version():
    scope = {}
    with open(os.path.join(HERE, 'basicsr_nafnet', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


class BuildWithOptions(build_py):
    """Also ship the one top-level ``options/`` folder inside the package as ``basicsr_nafnet/_options``.

    A checkout keeps a single copy of the option files (``options/``); an installed wheel finds them
    through the package (``basicsr_nafnet.engine.options.options_root``), so the demo and option names in
    model specs work after a plain ``pip install .``.
    """

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, 'basicsr_nafnet', '_options')
        for path in glob.glob(os.path.join(HERE, 'options', '**', '*.yml'), recursive=True):
            dest = os.path.join(target, os.path.relpath(path, os.path.join(HERE, 'options')))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(path, dest)  # links are followed: the wheel holds plain files


setup(
    name='basicsr-nafnet',
    version=read_version(),
    description='NAFNet-family single-image motion deblurring (GoPro) as a BasicSR plugin',
    long_description=open(os.path.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['basicsr_nafnet', 'basicsr_nafnet.*']),
    cmdclass={'build_py': BuildWithOptions},
    python_requires='>=3.9',
    install_requires=[
        'basicsr>=1.4.2',
        'torch>=2.0',
        'torchvision',
        'mmengine',
        'matplotlib',  # Agg only (no display): training and ladder curves
        'opencv-python',
        'pillow',
        'numpy',
        'lmdb',
        'scikit-image',
        'pyyaml',
        'tqdm',
    ],
    # deploy: ONNX export (scripts/export.py) and the onnxruntime/openvino execution paths; the tests exercise them
    extras_require={'deploy': DEPLOY, 'test': ['pytest'] + DEPLOY},
    # one dispatcher, `basicsr-nafnet <command>` (every command, listed by --help), rather than a dozen names on PATH;
    # the two earlier names stay for those who use them
    entry_points={'console_scripts': [
        'basicsr-nafnet = basicsr_nafnet.commands:main',
        'basicsr-nafnet-train = basicsr_nafnet.train:main',
        'basicsr-nafnet-test = basicsr_nafnet.test:main',
    ]},
    license='MIT',
    zip_safe=False,
)
