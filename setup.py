#!/usr/bin/env python
"""Install with ``pip install -e .[test]`` after installing torch (see scripts/test.sh)."""
import os

from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open(os.path.join(os.path.dirname(__file__), 'basicsr_nafnet', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='basicsr-nafnet',
    version=read_version(),
    description='NAFNet-family single-image motion deblurring (GoPro) as a BasicSR plugin',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['basicsr_nafnet', 'basicsr_nafnet.*']),
    python_requires='>=3.9',
    install_requires=[
        'basicsr>=1.4.2',
        'torch>=2.0',
        'torchvision',
        'mmengine',
        'opencv-python',
        'pillow',
        'numpy',
        'lmdb',
        'scikit-image',
        'pyyaml',
        'tqdm',
    ],
    extras_require={'test': ['pytest']},
    entry_points={'console_scripts': [
        'basicsr-nafnet-train = basicsr_nafnet.train:main',
        'basicsr-nafnet-test = basicsr_nafnet.test:main',
    ]},
    license='MIT',
    zip_safe=False,
)
