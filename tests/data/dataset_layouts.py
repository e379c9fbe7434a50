"""Tiny datasets written in each layout the converter reads (GoPro, flattened, NAFNet, HIDE), as folders or zips.

A helper module of tests/data (not a test module): the layout, converter and download tests share it.
"""
import os
import zipfile

import cv2
import numpy as np

SEQUENCES = ('GOPR0372_07_00', 'GOPR0384_11_01')


def write_png(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, img)


def random_image(rng, size=(40, 56)):
    return rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)


def make_dataset(root, layout, n=2, size=(40, 56), seed=0):
    """Write a tiny dataset in one of the four layouts; returns ``{relative path: image}``."""
    rng = np.random.default_rng(seed)
    images = {}

    def put(rel, img=None):
        img = random_image(rng, size) if img is None else img
        write_png(os.path.join(root, *rel.split('/')), img)
        images[rel] = img

    for split in ('train', 'test'):
        for i in range(1, n + 1):
            name = f'{i:06d}.png'
            if layout == 'GOPRO_Large':
                for seq in SEQUENCES:  # the same file names in both sequences: keys must still be unique
                    for sub in ('blur', 'blur_gamma', 'sharp'):
                        put(f'{split}/{seq}/{sub}/{name}')
            elif layout == 'flattened':
                put(f'{split}/blur/{name}'), put(f'{split}/sharp/{name}')
            elif layout == 'NAFNet':
                put(f'{split}/input/{name}'), put(f'{split}/target/{name}')
            elif layout == 'HIDE' and split == 'test':
                folder = 'test-close-ups' if i % 2 else 'test-long-shot'
                put(f'test/{folder}/{i:02d}_HIDE.png'), put(f'GT/{i:02d}_HIDE.png')
    return images


def zip_folder(folder, zip_path, prefix=''):
    """Zip a folder the way dataset archives are made (stored members, sorted), under ``prefix``."""
    with zipfile.ZipFile(zip_path, 'w', zipfile.ZIP_STORED) as zf:
        for base, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(base, name)
                zf.write(path, prefix + os.path.relpath(path, folder).replace(os.sep, '/'))
    return zip_path
